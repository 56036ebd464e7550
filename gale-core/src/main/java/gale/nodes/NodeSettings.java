package gale.nodes;

import java.time.Duration;
import java.util.Optional;

/**
 * How a node takes part among the nodes sharing a store (docs/postgresql.md).
 *
 * @param advertise where clients and other nodes reach this node (--advertise); empty: http://127.0.0.1:PORT
 * @param heartbeat how often the node writes its heartbeat and renews its leases (--node-heartbeat, default 2s)
 * @param deadAfter a node whose heartbeat is older than this is dead: its row goes and its leases are handed to
 *                  others; also how long a job's lease lasts unrenewed (--node-dead-after, default 10s)
 */
public record NodeSettings(Optional<String> advertise, Duration heartbeat, Duration deadAfter) {

    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(2);
    public static final Duration DEFAULT_DEAD_AFTER = Duration.ofSeconds(10);
    public static final NodeSettings DEFAULT = new NodeSettings(Optional.empty(), DEFAULT_HEARTBEAT, DEFAULT_DEAD_AFTER);

    public NodeSettings {
        advertise = advertise == null ? Optional.empty() : advertise.map(String::strip).filter(s -> !s.isEmpty());
        advertise.ifPresent(url -> {
            if (!url.startsWith("http://") && !url.startsWith("https://")) {
                throw new IllegalArgumentException("--advertise takes the URL other nodes and clients reach this node at, "
                        + "like http://10.0.0.5:8080; got '" + url + "'");
            }
        });
        heartbeat = heartbeat == null ? DEFAULT_HEARTBEAT : heartbeat;
        deadAfter = deadAfter == null ? DEFAULT_DEAD_AFTER : deadAfter;
        if (heartbeat.toMillis() < 100) {
            throw new IllegalArgumentException("--node-heartbeat must be 100ms or more, got " + gale.config.Durations.format(heartbeat));
        }
        if (deadAfter.compareTo(heartbeat.multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("--node-dead-after must be at least twice --node-heartbeat (a node that misses one "
                    + "beat is not dead), got " + gale.config.Durations.format(deadAfter) + " with a heartbeat of "
                    + gale.config.Durations.format(heartbeat));
        }
    }
}
