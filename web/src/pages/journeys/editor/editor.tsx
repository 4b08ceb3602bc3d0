import type { JourneyDetail } from "../types.ts";

export interface EditorProps {
  journey: JourneyDetail;
  selected: string | null;
  onSelect: (id: string | null) => void;
  onSaved: () => void;
  onClose: () => void;
}

export default function JourneyEditor(props: EditorProps) {
  return (
    <button type="button" className="btn" onClick={props.onClose}>
      Close editor
    </button>
  );
}
