package gale.admin;

import gale.store.NodeRow;
import gale.store.NodeStore;
import io.javalin.config.RoutesConfig;

import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;

import java.util.Map;

/**
 * GET /v1/nodes: the nodes sharing this store with their load, as their last heartbeats left them (docs/postgresql.md);
 * admin scope. One node on SQLite.
 */
public final class NodesApi {

    private final NodeStore nodes;
    private final String self;
    private final Clock clock;

    /** @param self this node's id (the answer marks it) */
    public NodesApi(NodeStore nodes, String self, Clock clock) {
        this.nodes = nodes;
        this.self = self;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/nodes", ctx -> ctx.json(Map.of("nodes", nodes.list().stream().map(this::json).toList())));
    }

    private Map<String, Object> json(NodeRow node) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", node.id());
        m.put("url", node.url());
        m.put("state", node.state());
        m.put("self", node.id().equals(self));
        m.put("startedAt", node.startedAt().toString());
        m.put("heartbeatAgoMs", Math.max(0, Duration.between(node.heartbeatAt(), clock.instant()).toMillis()));
        m.put("instances", node.instances());
        m.put("inFlight", node.inFlight());
        m.put("jobs", node.jobs());
        return m;
    }

}
