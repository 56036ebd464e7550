package gale.logs;

import gale.store.InvocationRecord;
import gale.store.LogEntry;

import java.util.List;

/** Where {@link LogSink} writes its batches: the store, or a test's stand-in. Each call is one transaction. */
public interface LogStore {

    void appendLogs(List<LogEntry> entries);

    void appendInvocations(List<InvocationRecord> records);
}
