/**
 * A job done a slice per turn (a snapshot encoded, a received snapshot installed): each slice is
 * one `step`, which returns the result once the job is done, else null; the next slice runs on a
 * later turn (a timer, not defer: input that is waiting, messages and ticks, reaches the core
 * between slices). `cancel` drops the job (the node stops, or the work is abandoned).
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
    if (result !== null) this.done(result);
    else if (!this.cancelled) this.runLater();
  };
}
