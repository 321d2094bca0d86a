/**
 * A job done a slice per turn (a snapshot encoded, a received snapshot installed, the entries held
 * behind that install applied): each slice is one `step`, which returns the result once the job is
 * done, else null; the next slice runs on a later turn (a timer, not defer: input that is waiting,
 * messages and ticks, reaches the core between slices). `cancel` drops the job (the node stops, or
 * the work is abandoned): no slice and no `done` follow it.
 */
import type { ClockPort, TimerHandle } from './ports.js';

export class SliceLoop<T> {
  private timer: TimerHandle | null = null;
  /** Set by cancel(), which may come from inside a step (a stop): no slice follows it. */
  private cancelled = false;

  constructor(private readonly clock: ClockPort, private readonly step: () => T | null, private readonly done: (result: T) => void) {}

  /** Run the first slice in this turn. */
  runNow(): void {
    this.run();
  }

  /** Run the next slice on a later turn. */
  runLater(): void {
    this.timer = this.clock.setTimer(0, this.run);
  }

  cancel(): void {
    this.cancelled = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private readonly run = (): void => {
    this.timer = null;
    const result = this.step();
    // Cancelled from inside the step (input a test lets in there, a stop): the job is dropped,
    // also when this step finished it (the one who cancelled went on without its result).
    if (this.cancelled) return;
    if (result !== null) this.done(result);
    else this.runLater();
  };
}
