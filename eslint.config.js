import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

/** Folders whose code must stay pure (STYLE.md rule 1): no I/O, no clock, no randomness. */
const PURE = ["src/*/core/**/*.ts", "src/journeys/engine/**/*.ts", "src/errors/**/*.ts"];

export default tseslint.config(
  { ignores: ["node_modules/", ".waymark/", "test-results/", "dist/", "web/dist/", ".research/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    // The web app runs in the browser: browser globals, and React's rules of hooks.
    files: ["web/**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    languageOptions: {
      globals: {
        window: "readonly",
        document: "readonly",
        localStorage: "readonly",
        navigator: "readonly",
        fetch: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        performance: "readonly",
        requestAnimationFrame: "readonly",
      },
    },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "warn",
    },
  },
  {
    files: PURE,
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "pure code: no Node I/O; take what you need as an input" },
            {
              group: ["pg", "pg-*", "fastify", "fastify-*", "@fastify/*", "pino", "nodemailer", "undici"],
              message: "pure code: no I/O clients",
            },
            {
              group: ["**/db/**", "**/server/**", "**/cli/**"],
              message: "pure code must not reach the I/O layers",
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "fetch", message: "pure code: no network" },
        { name: "process", message: "pure code: configuration comes in as arguments" },
        { name: "setTimeout", message: "pure code: time is an input" },
        { name: "setInterval", message: "pure code: time is an input" },
        { name: "Buffer", message: "pure code: no Node globals" },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "pure code: take `now` as an input" },
        { object: "Math", property: "random", message: "pure code: hash a stable seed instead" },
        { object: "crypto", property: "randomUUID", message: "pure code: ids are inputs" },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: "pure code: take `now` as an input",
        },
      ],
    },
  },
);
