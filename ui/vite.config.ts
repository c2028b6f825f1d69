/// <reference types="vitest/config" />
import { defineConfig, loadEnv, type ProxyOptions } from 'vite';
import react from '@vitejs/plugin-react';

// The dev server forwards /api and /ws to a running `chatter serve`.
// The server's CSRF and WebSocket same-origin checks compare the Origin
// header with its own host, so the proxy rewrites Origin to the target.
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), 'UI_');
  const target = env.UI_DEV_API_ORIGIN || 'http://127.0.0.1:8080';
  const rewriteOrigin: ProxyOptions = {
    target,
    changeOrigin: true,
    configure(proxy) {
      proxy.on('proxyReq', (req) => {
        if (req.getHeader('origin')) req.setHeader('origin', target);
      });
      proxy.on('proxyReqWs', (req) => {
        req.setHeader('origin', target);
      });
    },
  };
  return {
    plugins: [react()],
    server: {
      host: '127.0.0.1',
      port: Number(env.UI_DEV_PORT || 5173),
      proxy: {
        '/api': rewriteOrigin,
        '/healthz': rewriteOrigin,
        '/ws': { ...rewriteOrigin, ws: true },
      },
    },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      sourcemap: true,
      target: 'es2022',
    },
    test: {
      include: ['tests/unit/**/*.test.ts'],
      environment: 'node',
    },
  };
});
