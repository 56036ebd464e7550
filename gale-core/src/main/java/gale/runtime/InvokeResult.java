package gale.runtime;

import java.util.List;
import java.util.Map;

/** How a call on an instance ended. Exactly one of these is produced for every call. */
public sealed interface InvokeResult {

    /** The function answered (any status, including its own 4xx/5xx). */
    record Response(int status, List<Map.Entry<String, String>> headers, byte[] body) implements InvokeResult {
    }

    /** The function raised; the instance is still healthy. */
    record FunctionError(String error, String traceback) implements InvokeResult {
    }

    /** The instance died during the call (crash, os._exit, killed, memory limit). */
    record InstanceDied(InstanceFailure failure) implements InvokeResult {
    }

    /** The deadline passed; the instance was killed because it may still be running user code. */
    record TimedOut() implements InvokeResult {
    }
}
