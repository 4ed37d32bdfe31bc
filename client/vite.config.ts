/// <reference types="vitest/config" />
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig, type ProxyOptions } from "vite";

// The Warren server the dev server forwards API calls to (`make run` serves it here).
const target = process.env.WARREN_API_URL ?? "http://127.0.0.1:8000";

const proxy: ProxyOptions = {
  target,
  changeOrigin: false,
  // Server-sent events must reach the browser as they are written: no buffering and no
  // compression on the way, and a long-lived connection.
  timeout: 0,
  proxyTimeout: 0,
  configure: (server) => {
    server.on("proxyRes", (res) => {
      if ((res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
        res.headers["cache-control"] = "no-cache, no-transform";
        res.headers["x-accel-buffering"] = "no";
      }
    });
  },
};

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: { "/api": proxy, "/healthz": proxy, "/readyz": proxy },
  },
  preview: {
    host: "127.0.0.1",
    proxy: { "/api": proxy, "/healthz": proxy, "/readyz": proxy },
  },
  build: {
    outDir: "dist",
    sourcemap: true,
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
