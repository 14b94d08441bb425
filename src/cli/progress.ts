// Progress of long jobs on stderr, so that stdout stays clean for results. On a terminal a live
// bar (cli-progress) with items, rate and ETA; elsewhere (CI logs, files) one plain line every few
// seconds, since a redrawn bar turns into thousands of lines there.
//
// The jobs are synchronous loops that block the event loop, so nothing here relies on timers: the
// bar is redrawn from update() (cli-progress's synchronousUpdate) and the plain lines are written
// when an update finds enough time has passed.

import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** Unit shown after the counts ("batches", "MB", ...). */
  unit?: string;
  /** Shown values are value / divisor with one decimal (1e6 turns bytes into MB). */
  divisor?: number;
}

export interface Task {
  /** Sets the done count (and the total, when it becomes known or changes). */
  update(done: number, total?: number): void;
  /** Ends the task; prints one closing line when not on a terminal. */
  done(summary?: string): void;
}

let enabled = true;
/** Seconds between plain lines when stderr is not a terminal. */
let lineEvery = 5;

/** --quiet turns every task into a no-op. */
export function setProgressEnabled(on: boolean): void {
  enabled = on;
}

export function setLineInterval(seconds: number): void {
  lineEvery = seconds;
}

const NOOP: Task = { update() {}, done() {} };

// Bars still drawn when a job fails: they are stopped before the error line is printed, so the
// message starts on a line of its own and the cursor comes back.
const active = new Set<{ stop(): void }>();

export function stopAllTasks(): void {
  for (const b of active) b.stop();
  active.clear();
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fmtRate(r: number): string {
  if (!Number.isFinite(r) || r <= 0) return '?';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

export function startTask(label: string, total: number, o: ProgressOptions = {}): Task {
  if (!enabled) return NOOP;
  const unit = o.unit ?? 'items';
  const div = o.divisor;
  const show = (v: number): string => (div ? (v / div).toFixed(1) : String(Math.round(v)));
  const showRate = (r: number): string => fmtRate(div ? r / div : r);
  const t0 = performance.now();
  let value = 0;
  let max = total;
  // The rate counts from the first update, in items and in time: a job resumed at item k reports k
  // at once, and counting those as done in this session would make the rate and the ETA wrong.
  let first: { value: number; at: number } | null = null;
  const rate = (): number => (first === null ? NaN : (value - first.value) / Math.max((performance.now() - first.at) / 1000, 1e-9));
  const eta = (): number => { const r = rate(); return max > 0 && r > 0 ? Math.max(max - value, 0) / r : NaN; };
  const note = (done: number): void => { value = done; first ??= { value: done, at: performance.now() }; };

  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {shown}/{shownTotal} ${unit} | {rate}/s | ETA {etaText}`,
      stream: process.stderr,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    }, cliProgress.Presets.shades_classic);
    bar.start(Math.max(max, 1), 0, { shown: show(0), shownTotal: show(max), rate: '?', etaText: '?' });
    active.add(bar);
    return {
      update(done, newTotal) {
        note(done);
        if (newTotal !== undefined && newTotal !== max) { max = newTotal; bar.setTotal(Math.max(max, 1)); }
        bar.update(done, { shown: show(done), shownTotal: show(max), rate: showRate(rate()), etaText: fmtSeconds(eta()) });
      },
      done() {
        active.delete(bar);
        bar.stop();
      },
    };
  }

  let lastLine = t0;
  const line = (): void => {
    const secs = (performance.now() - t0) / 1000;
    process.stderr.write(`${label}: ${show(value)}/${show(max)} ${unit}, ${showRate(rate())}/s, ${fmtSeconds(secs)} elapsed, ETA ${fmtSeconds(eta())}\n`);
  };
  return {
    update(done, newTotal) {
      note(done);
      if (newTotal !== undefined) max = newTotal;
      const now = performance.now();
      if (now - lastLine >= lineEvery * 1000) { lastLine = now; line(); }
    },
    done(summary) {
      // A job shorter than one interval stays silent, so quick commands print nothing extra.
      if (lastLine !== t0) process.stderr.write(`${label}: ${summary ?? `done, ${show(value)} ${unit} in ${fmtSeconds((performance.now() - t0) / 1000)}`}\n`);
    },
  };
}
