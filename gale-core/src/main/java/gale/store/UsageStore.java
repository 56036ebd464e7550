package gale.store;

import org.jdbi.v3.core.Jdbi;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * Usage per function version per minute (docs/cost.md). One writer, the usage sampler, adds a batch
 * of minutes in one transaction; a minute written again (the sampler flushes every few seconds) adds
 * to what is there. Readers sum over a period.
 */
public final class UsageStore {

    private final Jdbi jdbi;

    UsageStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Adds each row to its minute's (summing counts, keeping the larger peaks), all in one transaction. */
    public void add(List<UsageRow> rows) {
        if (rows.isEmpty()) return;
        try {
            jdbi.useTransaction(h -> {
                try (PreparedStatement ps = h.getConnection().prepareStatement("""
                        INSERT INTO usage_minutes (minute_ms, function_name, version, job_id, memory_mb, cpu_allocated, calls,
                            duration_us, billed_ms_1, billed_ms_100, active_ms, instance_ms, cpu_us, peak_memory_bytes,
                            peak_instances, source)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (function_name, version, job_id, minute_ms) DO UPDATE SET
                            calls = usage_minutes.calls + excluded.calls,
                            duration_us = usage_minutes.duration_us + excluded.duration_us,
                            billed_ms_1 = usage_minutes.billed_ms_1 + excluded.billed_ms_1,
                            billed_ms_100 = usage_minutes.billed_ms_100 + excluded.billed_ms_100,
                            active_ms = usage_minutes.active_ms + excluded.active_ms,
                            instance_ms = usage_minutes.instance_ms + excluded.instance_ms,
                            cpu_us = usage_minutes.cpu_us + excluded.cpu_us,
                            peak_memory_bytes = CASE WHEN excluded.peak_memory_bytes > usage_minutes.peak_memory_bytes
                                THEN excluded.peak_memory_bytes ELSE usage_minutes.peak_memory_bytes END,
                            peak_instances = CASE WHEN excluded.peak_instances > usage_minutes.peak_instances
                                THEN excluded.peak_instances ELSE usage_minutes.peak_instances END,
                            source = excluded.source""")) {
                    for (UsageRow r : rows) {
                        ps.setLong(1, r.minuteMs());
                        ps.setString(2, r.function());
                        ps.setInt(3, r.version());
                        ps.setString(4, r.jobId());
                        ps.setInt(5, r.memoryMb());
                        ps.setDouble(6, r.cpu());
                        ps.setLong(7, r.calls());
                        ps.setLong(8, r.durationMicros());
                        ps.setLong(9, r.billedMs1());
                        ps.setLong(10, r.billedMs100());
                        ps.setLong(11, r.activeMs());
                        ps.setLong(12, r.instanceMs());
                        ps.setLong(13, r.cpuMicros());
                        ps.setLong(14, r.peakMemoryBytes());
                        ps.setInt(15, r.peakInstances());
                        ps.setString(16, r.source());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            });
        } catch (SQLException e) {
            throw new IllegalStateException("could not store usage: " + e.getMessage(), e);
        }
    }

    private static final String SUMS = """
            SELECT function_name, version, job_id, memory_mb, cpu_allocated, MIN(minute_ms) AS first_minute,
                   MAX(minute_ms) AS last_minute, SUM(calls) AS calls, SUM(duration_us) AS duration_us,
                   SUM(billed_ms_1) AS billed_ms_1, SUM(billed_ms_100) AS billed_ms_100, SUM(active_ms) AS active_ms,
                   SUM(instance_ms) AS instance_ms, SUM(cpu_us) AS cpu_us, MAX(cpu_us) AS peak_cpu_us,
                   MAX(peak_memory_bytes) AS peak_memory_bytes, MAX(peak_instances) AS peak_instances, MAX(source) AS source
            FROM usage_minutes
            """;
    private static final String GROUPED = " GROUP BY function_name, version, job_id, memory_mb, cpu_allocated ORDER BY function_name, version";

    /**
     * What each function version used from {@code sinceMs} on (minutes that start then or later), summed
     * per version (and per memory and CPU setting, which a version never changes); one function's, or all.
     */
    public List<UsageRow> functions(long sinceMs, Optional<String> function) {
        return jdbi.withHandle(h -> {
            var query = h.createQuery(SUMS + "WHERE job_id = '' AND minute_ms >= :since"
                    + (function.isPresent() ? " AND function_name = :function" : "") + GROUPED).bind("since", sinceMs);
            function.ifPresent(name -> query.bind("function", name));
            return query.map((rs, ctx) -> row(rs)).list();
        });
    }

    /** The share of its function's versions one map job used, summed per version. */
    public List<UsageRow> job(String jobId) {
        return jdbi.withHandle(h -> h.createQuery(SUMS + "WHERE job_id = :job" + GROUPED)
                .bind("job", jobId).map((rs, ctx) -> row(rs)).list());
    }

    /** CPU time a map job's tasks used so far, in microseconds. */
    public long jobCpuMicros(String jobId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT COALESCE(SUM(cpu_us), 0) FROM usage_minutes WHERE job_id = :job")
                .bind("job", jobId).mapTo(Long.class).one());
    }

    private static UsageRow row(ResultSet rs) throws SQLException {
        return new UsageRow(rs.getLong("first_minute"), rs.getLong("last_minute"), rs.getString("function_name"),
                rs.getInt("version"), rs.getString("job_id"), rs.getInt("memory_mb"), rs.getDouble("cpu_allocated"),
                rs.getLong("calls"), rs.getLong("duration_us"), rs.getLong("billed_ms_1"), rs.getLong("billed_ms_100"),
                rs.getLong("active_ms"), rs.getLong("instance_ms"), rs.getLong("cpu_us"), rs.getLong("peak_cpu_us"),
                rs.getLong("peak_memory_bytes"), rs.getInt("peak_instances"), rs.getString("source"));
    }
}
