package gale.api.internal;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import java.util.Properties;

/**
 * The main class of every Java function instance. Gale starts
 * {@code java -cp gale-api.jar:FUNCTION_JARS gale.api.internal.Bootstrap} with the
 * GALE_* environment of docs/protocol.md; this is not meant to be run by hand.
 *
 * <p>{@code --train} runs the instance against a stand-in for Gale on a private socket,
 * without calling user code, so a class-data archive made from that run holds every
 * class a real start needs.
 */
public final class Bootstrap {

    private Bootstrap() {
    }

    public static void main(String[] args) {
        Settings settings = Settings.from(System.getenv());
        boolean training = args.length > 0 && args[0].equals("--train");
        if (settings.entryPoint().isEmpty() || settings.socket().isEmpty() && !training) {
            System.err.println("gale bootstrap: GALE_SOCKET and GALE_ENTRY_POINT are not set; this program is started by Gale");
            System.exit(2);
        }
        int code;
        try {
            code = training ? Training.run(settings) : new FunctionInstance(settings, FunctionLoader.forSystemClasspath(), Optional.empty()).run();
        } catch (IOException e) {
            System.err.println("gale bootstrap: " + e);
            code = 1;
        }
        System.out.flush();
        System.err.flush();
        System.exit(code);
    }

    /** The version of gale-api, sent in HELLO so Gale can tell which bootstrap it talks to. */
    static String apiVersion() {
        try (InputStream in = Bootstrap.class.getResourceAsStream("gale-api.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
