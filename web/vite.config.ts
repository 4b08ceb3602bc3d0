import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// Built by `npm install` (prepare) or `npm run build` into web/dist, which the server serves at `/`.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The budget (main bundle under 400 KB gzipped) is checked by bench/web-bundle.ts, not here.
    chunkSizeWarningLimit: 2000,
  },
  server: {
    // `npm run dev:web` proxies the API to a running `waymark start`.
    proxy: { "/api": "http://127.0.0.1:8080", "/v1": "http://127.0.0.1:8080" },
  },
});
