/**
 * Two small tools every part of the controller shares.
 *
 * `Lifetime` counts sign-ins. Work that awaits the network takes a token
 * first and drops its result if the token went stale meanwhile (a logout or
 * a new login happened), so a late answer never writes into the next
 * session's stores.
 *
 * `Work` remembers the promises started by socket events so tests and
 * diagnostics can wait until the controller is quiet (`idle()`).
 */

/** True while the sign-in it was taken in is still the current one. */
export type Alive = () => boolean;

export class Lifetime {
  private generation = 0;

  /** A new sign-in starts: every earlier token goes stale. */
  begin(): Alive {
    this.generation++;
    return this.token();
  }

  /** The current sign-in ends (logout, expiry): every token goes stale. */
  end(): void {
    this.generation++;
  }

  token(): Alive {
    const gen = this.generation;
    return () => gen === this.generation;
  }
}

export class Work {
  private pending = new Set<Promise<unknown>>();

  track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves once every tracked promise, including ones started meanwhile, has settled. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}
