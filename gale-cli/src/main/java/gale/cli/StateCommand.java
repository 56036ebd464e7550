package gale.cli;

import gale.client.GaleClient;
import gale.client.StateEntry;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code gale state}: read and write shared state (docs/state.md) as the admin. */
@Command(name = "state", description = "Read and write shared state: namespaced keys with JSON values.",
        subcommands = {StateCommand.Get.class, StateCommand.Put.class, StateCommand.Increment.class,
                StateCommand.Remove.class, StateCommand.ListKeys.class},
        footer = {"", "A function's own namespace is its name; inside it, gale.state reaches it (docs/state.md)."})
final class StateCommand extends CommandGroup {


    @Command(name = "get", description = "Print a key's value as JSON.")
    static final class Get extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAMESPACE") String namespace;
        @Parameters(index = "1", paramLabel = "KEY") String key;

        @Option(names = "--with-version", description = "also print the key's version (for `gale state put --if-version`)")
        boolean withVersion;

        @Override
        int run(GaleClient client, Terminal terminal) {
            Optional<StateEntry> entry = client.stateGet(namespace, key);
            if (entry.isEmpty()) {
                terminal.err().println("ERROR: no key '" + key + "' in state namespace '" + namespace + "'");
                return ExitCode.FAILED;
            }
            terminal.out().println(entry.get().valueJson().orElse("null"));
            if (withVersion) terminal.out().println("version " + entry.get().version());
            return ExitCode.OK;
        }
    }

    @Command(name = "put", description = "Store a JSON value: 42, '\"text\"' (quoted), '{\"a\": 1}'.")
    static final class Put extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAMESPACE") String namespace;
        @Parameters(index = "1", paramLabel = "KEY") String key;
        @Parameters(index = "2", paramLabel = "JSON", description = "the value as JSON (text needs quotes: '\"hello\"')") String value;

        @Option(names = "--ttl", paramLabel = "DURATION", description = "the key disappears after this long (30s, 1h)")
        Optional<Duration> ttl = Optional.empty();

        @Option(names = "--if-version", paramLabel = "N",
                description = "write only if the key is at version N (0: only if it does not exist)")
        Optional<Long> ifVersion = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) {
            StateEntry written = client.statePut(namespace, key, value, ttl,
                    ifVersion.map(OptionalLong::of).orElse(OptionalLong.empty()));
            terminal.out().println("Stored " + namespace + "/" + key + " at version " + written.version()
                    + written.expiresAt().map(at -> ", until " + at).orElse("") + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "incr", description = "Add to a whole number atomically (from 0 when absent) and print the result.")
    static final class Increment extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAMESPACE") String namespace;
        @Parameters(index = "1", paramLabel = "KEY") String key;

        @Option(names = "--by", paramLabel = "N", defaultValue = "1", description = "how much to add; negative subtracts (default: ${DEFAULT-VALUE})")
        long by;

        @Override
        int run(GaleClient client, Terminal terminal) {
            terminal.out().println(client.stateIncrement(namespace, key, by).valueJson().orElse("null"));
            return ExitCode.OK;
        }
    }

    @Command(name = "rm", description = "Delete a key.")
    static final class Remove extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAMESPACE") String namespace;
        @Parameters(index = "1", paramLabel = "KEY") String key;

        @Override
        int run(GaleClient client, Terminal terminal) {
            if (!client.stateDelete(namespace, key)) {
                terminal.err().println("ERROR: no key '" + key + "' in state namespace '" + namespace + "'");
                return ExitCode.FAILED;
            }
            terminal.out().println("Deleted " + namespace + "/" + key + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "ls", description = "List a namespace's keys in key order, with their values.")
    static final class ListKeys extends ClientCommand {
        private static final int VALUE_WIDTH = 60;

        @Parameters(index = "0", paramLabel = "NAMESPACE") String namespace;

        @Option(names = "--prefix", paramLabel = "TEXT", defaultValue = "", description = "only keys that start with this")
        String prefix;

        @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "most keys to list (default: ${DEFAULT-VALUE})")
        int limit;

        @Override
        int run(GaleClient client, Terminal terminal) {
            GaleClient.StatePage page = client.stateList(namespace, prefix, Optional.empty(), Math.clamp(limit, 1, 1000));
            if (page.entries().isEmpty()) {
                terminal.out().println("No keys in " + namespace + (prefix.isEmpty() ? "" : " starting with '" + prefix + "'") + ".");
                return ExitCode.OK;
            }
            Table table = new Table("KEY", "VERSION", "EXPIRES", "VALUE");
            for (StateEntry e : page.entries()) {
                String value = e.valueJson().orElse("");
                table.row(e.key(), e.version(), e.expiresAt().map(Object::toString).orElse("-"),
                        value.length() <= VALUE_WIDTH ? value : value.substring(0, VALUE_WIDTH - 3) + "...");
            }
            table.print(terminal.out(), terminal.colour());
            page.next().ifPresent(next -> terminal.err().println("(more keys after " + next + ": raise --limit or narrow --prefix)"));
            return ExitCode.OK;
        }
    }
}
