package gale.server;

import gale.util.InPlace;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Jetty's threads: the selector and acceptor on platform threads. (Javalin's pool for virtual
 * threads ran everything on them, the selector too: every epoll_wait blocked a carrier, and the
 * scheduler compensated with futex traffic on every request.) Nothing blocking runs here: the
 * gateway serves calls without blocking and sends the admin API to virtual threads.
 *
 * <p>A task submitted from a thread that never blocks ({@link InPlace}: an instance's reader, done
 * writing a response) runs in place. That task is Jetty's next step for the connection, reading
 * its next request, which then needs no thread woken for it: one wake-up less per call.
 */
final class JettyThreads extends QueuedThreadPool {

    JettyThreads() {
        super(16, 2, 60_000);
        setName("gale-http");
        setReservedThreads(0);
    }

    @Override
    public void execute(Runnable task) {
        if (InPlace.allowed()) task.run();
        else super.execute(task);
    }
}
