// Dashboard entry point: the <spot-candle> element and the Datastar client
// (@starfederation/datastar 1.0.0-beta.11, pinned; the page asks /stream for
// that dialect with ?dialect=beta11).
import './spot-candle';
import '@starfederation/datastar/bundles/datastar';

// A small live counter in the header, so a glance shows the stream is alive.
let updates = 0;
document.addEventListener('spot-candle-update', () => {
  updates++;
  const counter = document.getElementById('spot-update-count');
  if (counter) counter.textContent = String(updates);
});
