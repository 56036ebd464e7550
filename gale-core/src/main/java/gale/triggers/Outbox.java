package gale.triggers;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * Where the state and blob stores report their writes, inside each write's own transaction, so an
 * acknowledged write never loses its trigger events (docs/triggers.md). {@link #NONE} follows nothing.
 */
public interface Outbox {

    Outbox NONE = new Outbox() {
        @Override
        public boolean follows(String source, String name) {
            return false;
        }

        @Override
        public void record(Connection connection, List<? extends Change> changes, long nowMillis) {
        }

        @Override
        public void committed() {
        }
    };

    /** True when some trigger follows the namespace ({@code source} "state") or bucket ("blob"): only then are changes built. */
    boolean follows(String source, String name);

    /** Stores the events the changes cause, in the caller's transaction, in the order given. */
    void record(Connection connection, List<? extends Change> changes, long nowMillis) throws SQLException;

    /** The transaction that recorded events committed: they may be delivered. */
    void committed();
}
