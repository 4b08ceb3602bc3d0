#!/usr/bin/env -S node --max-semi-space-size=64
// A young generation of 2 x 64 MB (node 20's default is 2 x 16 MB): under 1,000 profile reads/s,
// objects living about a second outlived two scavenges and filled the old generation, whose
// collection every few seconds kept both cores busy and made reads wait up to 100 ms. Run with plain
// `node bin/waymark.js`, pass the same option (or NODE_OPTIONS=--max-semi-space-size=64).
// The CLI runs the TypeScript sources through tsx, so `npm install && npx waymark start` needs no build step.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
