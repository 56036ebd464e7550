package gale.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The components of a server, started in order in one place and closed in reverse, the way
 * Jetty's ContainerLifeCycle does it: whatever started is closed, even when a later start
 * fails, and a component that fails to close does not keep the rest open.
 */
final class Lifecycle implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Lifecycle.class);

    private record Started(String name, AutoCloseable close) {
    }

    private final Deque<Started> started = new ArrayDeque<>();

    /** Registers a component that is running now, to be closed after everything started after it. */
    <T extends AutoCloseable> T add(String name, T component) {
        started.push(new Started(name, component));
        return component;
    }

    /** Registers what undoes a step that has just been taken. */
    void onClose(String name, AutoCloseable close) {
        started.push(new Started(name, close));
    }

    /** Closes everything started, newest first. Safe to call more than once. */
    @Override
    public void close() {
        Started next;
        while ((next = started.poll()) != null) {
            try {
                next.close().close();
            } catch (Exception e) {
                LOG.warn("stopping {} failed: {}", next.name(), e.toString());
            }
        }
    }
}
