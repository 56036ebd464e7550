package gale.pool;

/**
 * A snapshot of one pool, for describe, metrics and the console.
 *
 * @param instances ready instances
 * @param starting  instances still loading user code
 * @param busy      calls running now
 * @param waiting   calls waiting for a free instance
 */
public record PoolStats(int instances, int starting, int busy, int waiting) {
}
