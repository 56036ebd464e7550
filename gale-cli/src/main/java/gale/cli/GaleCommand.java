package gale.cli;

import gale.config.DataSize;
import gale.config.Durations;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

@Command(name = "gale",
        mixinStandardHelpOptions = true,
        scope = ScopeType.INHERIT, // every command answers --help

        versionProvider = GaleCommand.JarVersion.class,
        description = "Deploy Python functions, serve them over HTTP, map them over many inputs, keep shared state, call functions "
                + "on state changes and blob writes (triggers), version models with aliases, and see what it all cost.",
        subcommands = {
                ServerCommand.class, DemoCommand.class, DeployCommand.class, CallCommand.class, MapCommand.class,
                JobsCommand.class, CostCommand.class, SchedulesCommand.class, TriggersCommand.class, DeadLettersCommand.class, StateCommand.class, SamplerCommand.class, SecretsCommand.class, KeysCommand.class, AuditCommand.class, NodesCommand.class, BlobsCommand.class, ListCommand.class, DescribeCommand.class, VersionsCommand.class, LogsCommand.class,
                RollbackCommand.class, TrafficCommand.class, RemoveCommand.class, HelpCommand.class},
        footer = {
                "",
                "Client commands find the server through --url and --token, else GALE_URL",
                "and GALE_TOKEN, else the data dir of a local `gale server` ($GALE_HOME,",
                "else ./.gale). The token is the admin token or an access key (gale keys).",
                "",
                "Exit codes: 0 ok, 1 the operation failed, 2 usage error, 3 no server."})
final class GaleCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    private final Terminal terminal;
    private final Map<String, String> env;

    private GaleCommand(Terminal terminal, Map<String, String> env) {
        this.terminal = terminal;
        this.env = Map.copyOf(env);
    }

    static CommandLine commandLine(Terminal terminal, Map<String, String> env) {
        CommandLine cli = new CommandLine(new GaleCommand(terminal, env));
        cli.setOut(terminal.outWriter());
        cli.setErr(terminal.errWriter());
        cli.setColorScheme(Help.defaultColorScheme(terminal.colour() ? Help.Ansi.ON : Help.Ansi.OFF));
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExpandAtFiles(false); // `gale call --data @input.json` reads the file itself
        cli.registerConverter(DataSize.class, GaleCommand::dataSize);
        cli.registerConverter(Duration.class, GaleCommand::duration);
        cli.setExecutionExceptionHandler(new Failures());
        return cli;
    }

    Terminal terminal() {
        return terminal;
    }

    Map<String, String> env() {
        return env;
    }

    /** {@code gale} alone: show what it can do. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCode.USAGE;
    }

    private static DataSize dataSize(String text) {
        try {
            return DataSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    private static Duration duration(String text) {
        try {
            return Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    /** The version Maven recorded in the jar. */
    static final class JarVersion implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            String version = "development build";
            try (InputStream in = GaleCommand.class.getResourceAsStream("/META-INF/maven/dev.gale/gale-cli/pom.properties")) {
                if (in != null) {
                    Properties properties = new Properties();
                    properties.load(in);
                    version = properties.getProperty("version", version);
                }
            }
            return new String[] {"gale " + version + " (Java " + Runtime.version().feature() + ")"};
        }
    }
}
