package gale.store;

import java.time.Instant;

/**
 * A Gale node sharing the store, as its last heartbeat left it.
 *
 * @param url       where clients and other nodes reach it (--advertise)
 * @param state     ACTIVE, or DRAINING once it was told to stop
 * @param instances function instances it runs
 * @param inFlight  calls it is serving now
 * @param jobs      map jobs it runs (holds the lease of)
 * @param freeSlotsJson free slots per function, as JSON
 */
public record NodeRow(String id, String url, String state, Instant startedAt, Instant heartbeatAt, int instances, int inFlight,
                      int jobs, String freeSlotsJson) {

    public static final String ACTIVE = "ACTIVE";
    public static final String DRAINING = "DRAINING";
}
