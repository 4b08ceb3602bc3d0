#!/usr/bin/env node
// The browser tests drive Debian's Chromium through playwright-core (browser downloads do not work
// here). On a fresh machine it is missing: install it when we are root and apt-get exists.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";

const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(
  Boolean,
);
if (candidates.some((p) => existsSync(p))) process.exit(0);

if (process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")) {
  console.log("Chromium not found: installing Debian's chromium for the browser tests (apt-get)...");
  try {
    execSync(
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null",
      {
        stdio: "inherit",
        shell: "/bin/bash",
      },
    );
  } catch {
    console.error(
      "Installing chromium failed; the browser tests will fail. Install it with: apt-get install -y chromium",
    );
  }
} else {
  console.error(
    "Chromium is missing; install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.",
  );
}
