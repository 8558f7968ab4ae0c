// The console's build: Vite's own TypeScript and JSX transform (Preact's
// automatic runtime, from tsconfig.json's jsxImportSource), served by the
// orchestrator under /console/ from dist/console.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/console", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
});
