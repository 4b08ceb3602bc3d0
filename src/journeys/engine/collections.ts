import type { JourneyDefinition } from "../core/definition.ts";
import { renderTemplate } from "../core/template.ts";
import { eventName } from "./entry.ts";
import type { Message } from "./types.ts";

/** One item of a context collection: its identity and what is kept of it. */
export interface CollectionItem {
  id: string;
  value: unknown;
}

/**
 * Applies an event to the journey's collections (e.g. `cart`: upsert on Product Added by product_id,
 * remove on Product Removed). Items keep the order they were first added in; an upsert replaces the
 * item in place; past `max` the oldest item goes. In context a collection reads as the list of values.
 * Returns a new context (the old one is not changed). Template errors leave the collection as it was.
 */
export function updateCollections(
  def: JourneyDefinition,
  context: Record<string, unknown>,
  event: Message,
  scope: Record<string, unknown>,
): Record<string, unknown> {
  const name = eventName(event);
  let out = context;
  const scoped = { ...scope, event };
  for (const [collection, spec] of Object.entries(def.context.collections)) {
    const upsert = spec.upsert.includes(name);
    if (!upsert && !spec.remove.includes(name)) continue;
    let id: unknown;
    let value: unknown;
    try {
      id = renderTemplate(spec.id, scoped);
      value = spec.value === undefined ? (event.properties ?? {}) : renderTemplate(spec.value, scoped);
    } catch {
      continue;
    }
    if (id === undefined || id === null || id === "") continue;
    const itemId = typeof id === "string" ? id : JSON.stringify(id);
    const items = [
      ...((out.$collections as Record<string, CollectionItem[]> | undefined)?.[collection] ?? []),
    ];
    const at = items.findIndex((item) => item.id === itemId);
    if (upsert) {
      if (at >= 0) items[at] = { id: itemId, value };
      else items.push({ id: itemId, value });
      while (items.length > spec.max) items.shift();
    } else if (at >= 0) {
      items.splice(at, 1);
    }
    const all = {
      ...((out.$collections as Record<string, CollectionItem[]> | undefined) ?? {}),
      [collection]: items,
    };
    out = { ...out, $collections: all, [collection]: items.map((item) => item.value) };
  }
  return out;
}
