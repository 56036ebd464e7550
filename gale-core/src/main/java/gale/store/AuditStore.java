package gale.store;

import gale.access.AuditEntry;
import gale.access.AuditEntry.Outcome;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.jdbi.v3.core.statement.Query;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/** The audit log's rows. Written by {@link gale.access.AuditLog}'s one writer; plain SQL PostgreSQL runs too. */
public final class AuditStore {

    /** How an entry ended, for an entry written before; {@code function} when only the action found out which. */
    public record Finish(String id, Outcome outcome, int status, Optional<String> detail, Optional<String> function,
                         Instant finishedAt) {
    }

    private final Jdbi jdbi;

    AuditStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Inserts the new entries, then records the ends of earlier ones, in one transaction. */
    public void write(List<AuditEntry> entries, List<Finish> finishes) {
        jdbi.useTransaction(h -> {
            if (!entries.isEmpty()) {
                PreparedBatch insert = h.prepareBatch("""
                        INSERT INTO audit_log (id, at, actor, key_id, action, target, function_name, client, outcome, status,
                                               detail, finished_at)
                        VALUES (:id, :at, :actor, :key, :action, :target, :fn, :client, :outcome, :status, :detail, :finished)""");
                for (AuditEntry e : entries) {
                    insert.bind("id", e.id()).bind("at", e.at().toEpochMilli()).bind("actor", e.actor())
                            .bind("key", e.keyId().orElse(null)).bind("action", e.action()).bind("target", e.target())
                            .bind("fn", e.function().orElse(null)).bind("client", e.client()).bind("outcome", e.outcome().wire())
                            .bind("status", e.status().isPresent() ? e.status().getAsInt() : null)
                            .bind("detail", e.detail().orElse(null))
                            .bind("finished", e.finishedAt().map(Instant::toEpochMilli).orElse(null)).add();
                }
                insert.execute();
            }
            if (!finishes.isEmpty()) {
                PreparedBatch update = h.prepareBatch("""
                        UPDATE audit_log SET outcome = :outcome, status = :status, detail = :detail, finished_at = :finished,
                                             function_name = COALESCE(:fn, function_name)
                        WHERE id = :id""");
                for (Finish f : finishes) {
                    update.bind("outcome", f.outcome().wire()).bind("status", f.status()).bind("detail", f.detail().orElse(null))
                            .bind("finished", f.finishedAt().toEpochMilli()).bind("fn", f.function().orElse(null))
                            .bind("id", f.id()).add();
                }
                update.execute();
            }
        });
    }

    /** Entries still pending from a run that stopped become interrupted; returns how many. */
    public int interruptPending(Instant now) {
        return jdbi.withHandle(h -> h.createUpdate("""
                        UPDATE audit_log SET outcome = 'interrupted', finished_at = :now WHERE outcome = 'pending'""")
                .bind("now", now.toEpochMilli()).execute());
    }

    /** Entries at or after {@code since}, of one function or all, newest first. */
    public List<AuditEntry> list(Instant since, Optional<String> function, int limit) {
        return jdbi.withHandle(h -> {
            Query query = h.createQuery("SELECT * FROM audit_log WHERE at >= :since"
                            + (function.isPresent() ? " AND function_name = :fn" : "") + " ORDER BY at DESC, id DESC LIMIT :limit")
                    .bind("since", since.toEpochMilli()).bind("limit", limit);
            function.ifPresent(fn -> query.bind("fn", fn));
            return query.map((rs, ctx) -> row(rs)).list();
        });
    }

    private static AuditEntry row(ResultSet rs) throws SQLException {
        int status = rs.getInt("status");
        OptionalInt statusOpt = rs.wasNull() ? OptionalInt.empty() : OptionalInt.of(status);
        return new AuditEntry(rs.getString("id"), Instant.ofEpochMilli(rs.getLong("at")), rs.getString("actor"),
                Optional.ofNullable(rs.getString("key_id")), rs.getString("action"), rs.getString("target"),
                Optional.ofNullable(rs.getString("function_name")), rs.getString("client"),
                Outcome.valueOf(rs.getString("outcome").toUpperCase(Locale.ROOT)), statusOpt,
                Optional.ofNullable(rs.getString("detail")), KeyStore.instant(rs, "finished_at"));
    }
}
