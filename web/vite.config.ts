import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The web console (issue 12, item 2): Preact components compiled by Vite's own JSX transform
 * (no Babel plugin needed), built to web/dist, which the server serves at `/` (server/http/console.ts).
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 300 },
  server: {
    // `npx vite web` during development: API and rooms from a server on 2567.
    proxy: {
      "/auth": "http://127.0.0.1:2567",
      "/api": "http://127.0.0.1:2567",
      "/matchmake": "http://127.0.0.1:2567",
    },
  },
});
