package gale.registry;

import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

import java.nio.file.Path;

/**
 * The disk holding Gale's data dir is full, so a deploy could not be stored (HTTP 507); what
 * it had written was deleted, and the active version keeps serving.
 */
public final class StorageFull extends DeployRejected {

    public StorageFull(Path dataDir, String doing, Throwable cause) {
        super("no space left on the disk of Gale's data dir " + dataDir + " (" + doing + ": " + rootMessage(cause)
                + "); nothing of this deploy was kept, and the active version keeps serving. Free space on that disk (df -h "
                + dataDir + "; gale rm NAME deletes a function with its bundles and logs), or start the server with "
                + "--data-dir on a bigger one, then deploy again");
    }

    /** What to say when a full disk refused an action other than a deploy: nothing was done, and how to make room. */
    public static String nothingDone(Path dataDir, String doing, Throwable cause) {
        return "no space left on the disk of Gale's data dir " + dataDir + " (" + doing + ": " + rootMessage(cause)
                + "); nothing was done. Free space on that disk (df -h " + dataDir + "), or start the server with "
                + "--data-dir on a bigger one, then try again";
    }

    /** True when {@code error}, or what caused it, says a file system or the SQLite file on it is full. */
    public static boolean isDiskFull(Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
            if (e instanceof SQLiteException s && s.getResultCode() == SQLiteErrorCode.SQLITE_FULL) return true;
            String message = String.valueOf(e.getMessage());
            if (message.contains("No space left on device") || message.contains("Disk quota exceeded")) return true;
        }
        return false;
    }

    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        return root.getMessage() == null ? root.toString() : root.getMessage();
    }
}
