import { readFile } from "node:fs/promises";

/**
 * The text of a file a command was given (`-f, --file`); one it cannot read is an error naming the
 * file and why (ENOENT, EACCES, ...).
 */
export async function readInputFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
    });
  }
}

/** `text`, read from `file`, as JSON; invalid JSON is an error naming the file and what is wrong. */
export function parseJsonFile(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
