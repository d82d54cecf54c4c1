// <spot-candle>: one live candle, rendered from its attributes.
//
// The server streams the element with attributes only (DESIGN.md section 4);
// Datastar morphs those attributes in place. The rendering lives in a shadow
// root so that morphing the light DOM (which has no children) never removes
// it. Prices are shown as the exact decimal strings the server sent; only the
// change in percent uses floating point, for display.

const ATTRIBUTES = [
  'product',
  'granularity',
  'start',
  'open',
  'high',
  'low',
  'close',
  'volume',
  'trades',
  'complete',
  'ts',
] as const;

const SHORT_NAMES: Record<string, string> = {
  ONE_MINUTE: '1m',
  FIVE_MINUTE: '5m',
  FIFTEEN_MINUTE: '15m',
  THIRTY_MINUTE: '30m',
  ONE_HOUR: '1h',
  TWO_HOUR: '2h',
  FOUR_HOUR: '4h',
  SIX_HOUR: '6h',
  ONE_DAY: '1d',
};

function stylesheetHref(): string {
  const link = document.querySelector<HTMLLinkElement>('link[data-spot-style]');
  return link ? link.href : '/static/app.css';
}

export function changePercent(open: string | null, close: string | null): string {
  if (!open || !close) return '';
  const o = Number(open);
  const c = Number(close);
  if (!Number.isFinite(o) || !Number.isFinite(c) || o === 0) return '';
  const pct = ((c - o) / o) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(2)}%`;
}

function startTime(start: string | null): string {
  if (!start) return '';
  const seconds = Number(start);
  if (!Number.isFinite(seconds)) return '';
  return new Date(seconds * 1000).toISOString().slice(11, 16) + ' UTC';
}

export class SpotCandleElement extends HTMLElement {
  static get observedAttributes(): readonly string[] {
    return ATTRIBUTES;
  }

  private root: ShadowRoot;
  private cells = new Map<string, HTMLElement>();
  private updates = 0;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = stylesheetHref();
    this.root.appendChild(link);
    const row = document.createElement('div');
    row.className =
      'grid grid-cols-8 items-center gap-2 rounded-box bg-base-200 px-3 py-2 font-mono text-sm';
    row.setAttribute('part', 'row');
    for (const name of ['product', 'granularity', 'close', 'change', 'range', 'volume', 'trades', 'state']) {
      const cell = document.createElement('span');
      cell.dataset.cell = name;
      if (name === 'product') cell.className = 'font-bold';
      if (name === 'volume' || name === 'trades') cell.className = 'text-right';
      row.appendChild(cell);
      this.cells.set(name, cell);
    }
    this.root.appendChild(row);
  }

  connectedCallback(): void {
    this.render();
  }

  attributeChangedCallback(): void {
    this.render();
  }

  /** How many times the element re-rendered (tests and the page's counter). */
  get renderCount(): number {
    return this.updates;
  }

  private set(name: string, text: string, className?: string): void {
    const cell = this.cells.get(name);
    if (!cell) return;
    if (cell.textContent !== text) cell.textContent = text;
    if (className !== undefined) cell.className = className;
  }

  private render(): void {
    this.updates++;
    const open = this.getAttribute('open');
    const close = this.getAttribute('close');
    const high = this.getAttribute('high');
    const low = this.getAttribute('low');
    const gran = this.getAttribute('granularity') ?? '';
    const change = changePercent(open, close);
    const complete = this.getAttribute('complete') === 'true';
    const hasData = close !== null && close !== '';

    this.set('product', this.getAttribute('product') ?? '');
    this.set('granularity', `${SHORT_NAMES[gran] ?? gran} ${startTime(this.getAttribute('start'))}`);
    this.set('close', hasData ? close! : '—');
    this.set(
      'change',
      change,
      change.startsWith('-') ? 'text-error' : change ? 'text-success' : '',
    );
    this.set('range', hasData ? `${low} – ${high}` : '');
    this.set('volume', this.getAttribute('volume') ?? '', 'text-right');
    this.set('trades', this.getAttribute('trades') ?? '', 'text-right');
    this.set(
      'state',
      hasData ? (complete ? 'complete' : 'live') : 'waiting',
      hasData ? (complete ? 'badge badge-neutral' : 'badge badge-success') : 'badge badge-ghost',
    );
    this.dispatchEvent(new CustomEvent('spot-candle-update', { bubbles: true }));
  }
}

if (!customElements.get('spot-candle')) {
  customElements.define('spot-candle', SpotCandleElement);
}
