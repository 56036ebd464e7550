package gale.api.internal;

import gale.api.HttpFunction;
import gale.api.Request;
import gale.api.Response;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Entry points the instance tests load by name, one per behaviour. */
public final class TestFunctions {

    private TestFunctions() {
    }

    /** Answers with what it received. */
    public static class Echo implements HttpFunction {
        @Override
        public void handle(Request req, Response res) {
            res.status(req.query("status").map(Integer::parseInt).orElse(200))
                    .header("X-Method", req.method())
                    .header("X-Path", req.path())
                    .header("X-Header", req.header("x-in").orElse("-"))
                    .contentType(req.contentType().orElse("text/plain"))
                    .send(req.body());
        }
    }

    public static class Throws implements HttpFunction {
        @Override
        public void handle(Request req, Response res) {
            if (req.query("fail").isPresent()) throw new IllegalStateException("boom");
            res.send("fine");
        }
    }

    public static class Prints implements HttpFunction {
        public Prints() {
            System.out.println("loading");
        }

        @Override
        public void handle(Request req, Response res) {
            System.out.print("one\ntwo");
            System.err.println("to stderr");
            res.send("printed");
        }
    }

    /** Finishes only when two calls are in it at once. */
    public static class Rendezvous implements HttpFunction {
        static volatile CountDownLatch both = new CountDownLatch(2);

        @Override
        public void handle(Request req, Response res) throws InterruptedException {
            both.countDown();
            res.send(both.await(5, TimeUnit.SECONDS) ? "met" : "alone");
        }
    }

    public static class Slow implements HttpFunction {
        @Override
        public void handle(Request req, Response res) throws InterruptedException {
            Thread.sleep(300);
            res.send("slow done");
        }
    }

    /** Answers with the name of the thread that runs the call. */
    public static class ThreadName implements HttpFunction {
        @Override
        public void handle(Request req, Response res) {
            res.send(Thread.currentThread().getName());
        }
    }

    /** Never sends: the answer is its status with an empty body. */
    public static class Silent implements HttpFunction {
        @Override
        public void handle(Request req, Response res) {
            res.status(204);
        }
    }

    public static class NotAFunction {
    }

    public abstract static class Abstract implements HttpFunction {
    }

    public static class NoDefaultConstructor implements HttpFunction {
        public NoDefaultConstructor(String model) {
        }

        @Override
        public void handle(Request req, Response res) {
        }
    }

    static class NotPublic implements HttpFunction {
        @Override
        public void handle(Request req, Response res) {
        }
    }

    public class Inner implements HttpFunction {
        @Override
        public void handle(Request req, Response res) {
        }
    }

    public static class ThrowsInConstructor implements HttpFunction {
        public ThrowsInConstructor() {
            throw new IllegalArgumentException("no model file model.pkl");
        }

        @Override
        public void handle(Request req, Response res) {
        }
    }

    public static class ThrowsInStaticInit implements HttpFunction {
        static final int VALUE = Integer.parseInt("not a number");

        @Override
        public void handle(Request req, Response res) {
        }
    }

}
