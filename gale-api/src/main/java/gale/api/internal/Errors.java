package gale.api.internal;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;

/** How a Java exception is reported to Gale: one line for the caller, a trace for the logs. */
final class Errors {

    private Errors() {
    }

    /** {@code java.lang.IllegalStateException: boom}, on one line. */
    static String describe(Throwable t) {
        String text;
        try {
            text = t.toString();
        } catch (RuntimeException broken) { // a broken getMessage() must not take the instance down
            text = t.getClass().getName() + ": <getMessage() failed>";
        }
        int newline = text.indexOf('\n');
        return newline < 0 ? text : text.substring(0, newline).stripTrailing();
    }

    /**
     * The stack trace without the frames below the user's code: from where Gale called into
     * it (FunctionInstance, FunctionLoader and the reflection they use) down, they say nothing to the user.
     */
    static String stackTrace(Throwable t) {
        StackTraceElement[] frames = t.getStackTrace();
        int keep = 0;
        while (keep < frames.length && !callsUserCode(frames[keep].getClassName())) keep++;
        while (keep > 0 && isReflection(frames[keep - 1].getClassName())) keep--;
        if (keep > 0 && keep < frames.length) t.setStackTrace(Arrays.copyOf(frames, keep));
        StringWriter out = new StringWriter();
        try (PrintWriter writer = new PrintWriter(out)) {
            t.printStackTrace(writer);
        } catch (RuntimeException broken) {
            return describe(t);
        }
        return out.toString();
    }

    private static boolean callsUserCode(String className) {
        return className.startsWith("gale.api.internal.FunctionInstance") || className.startsWith("gale.api.internal.FunctionLoader");
    }

    private static boolean isReflection(String className) {
        return className.startsWith("jdk.internal.reflect.") || className.startsWith("java.lang.reflect.");
    }
}
