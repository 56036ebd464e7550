package gale.runtime;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The environment every process Gale starts begins with: instances of every runtime, zygotes,
 * and helper processes (pip, Maven, training runs). Only the variables below pass from the
 * server's environment; everything else (the admin token, cloud credentials, GALE_* settings)
 * stays with the server. Callers add their own variables on top.
 */
public final class CleanEnvironment {

    /** Locale, search path, time zone, and the BLAS/OpenMP knobs an administrator sets for the machine. */
    public static final List<String> PASSED_THROUGH = List.of("PATH", "LANG", "LC_ALL", "TZ",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS");
    private static final String DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

    private CleanEnvironment() {
    }

    /** A new, mutable environment holding the passed-through variables of the server's, with PATH and LANG always set. */
    public static Map<String, String> create() {
        return create(System.getenv());
    }

    static Map<String, String> create(Map<String, String> server) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String name : PASSED_THROUGH) {
            String value = server.get(name);
            if (value != null) env.put(name, value);
        }
        env.putIfAbsent("PATH", DEFAULT_PATH);
        env.putIfAbsent("LANG", "C.UTF-8");
        return env;
    }
}
