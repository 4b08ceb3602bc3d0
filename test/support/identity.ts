import { expect } from "vitest";
import type { IdentityDecision } from "../../src/identity/index.ts";
import type { TestServer } from "./server.ts";

/** A profile as the admin API answers it (the fields identity stories look at). */
export interface ProfileView {
  id: string;
  traits: Record<string, unknown>;
  identities: Array<{ type: string; value: string }>;
  mergedFrom: Array<{ id: string; cause: string }>;
  eventCount: number;
  identityDecisions?: number;
}

/** A decision as GET /api/v1/identity/decisions answers it. */
export type DecisionView = IdentityDecision;

export interface SuggestionView {
  id: number;
  profileId: string;
  otherProfileId: string;
  score: number;
  signals: Record<string, unknown>;
  status: string;
  mergeEventSeq: number | null;
}

/** GETs an admin path, expects 200, returns the JSON body. */
export async function getJson<T>(server: TestServer, path: string): Promise<T> {
  const res = await server.admin(path);
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

/** Live profiles found by identifier, e.g. `userId=ada`. */
export async function profilesBy(server: TestServer, query: string): Promise<ProfileView[]> {
  return (await getJson<{ items: ProfileView[] }>(server, `/api/v1/profiles?${query}`)).items;
}

/** The one live profile found by identifier (fails unless exactly one). */
export async function profileBy(server: TestServer, query: string): Promise<ProfileView> {
  const found = await profilesBy(server, query);
  expect(found, query).toHaveLength(1);
  return found[0]!;
}

export async function decisions(server: TestServer, query = ""): Promise<DecisionView[]> {
  return (await getJson<{ items: DecisionView[] }>(server, `/api/v1/identity/decisions?${query}`)).items;
}

export async function suggestions(server: TestServer, query = ""): Promise<SuggestionView[]> {
  return (await getJson<{ items: SuggestionView[] }>(server, `/api/v1/identity/suggestions?${query}`)).items;
}

/** PUT the workspace's identity rules; returns the response. */
export function putRules(server: TestServer, rules: unknown): Promise<Response> {
  return server.admin("/api/v1/identity/rules", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rules),
  });
}

/** Sends calls to the tracking API in order, each expected to be accepted. */
export async function send(server: TestServer, calls: Array<[path: string, body: unknown]>): Promise<void> {
  for (const [path, body] of calls) {
    const res = await server.track(path, body);
    expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  }
}
