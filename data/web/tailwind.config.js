// Tailwind CSS 3.4 + daisyUI 4 (both run on node 18 and 20). Paths are
// relative to this file, so the build works from any directory (meson runs
// it from the build tree).
module.exports = {
  content: {
    relative: true,
    files: ['../templates/**/*.html', './src/**/*.ts', '../../src/http/spot-http-server.c'],
  },
  theme: {
    extend: {},
  },
  plugins: [require('daisyui')],
  daisyui: {
    themes: ['dark', 'light'],
    logs: false,
  },
};
