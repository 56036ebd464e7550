package gale.runtime.process;

import gale.config.ConfigResolver;
import gale.runtime.DeployFailure;
import gale.runtime.Isolation;
import gale.runtime.RuntimeContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The parts of the process runtime below an instance; the whole runtime is tested end to end in gale.e2e. */
class ProcessRuntimePartsTest {

    @TempDir
    Path tmp;

    @Test
    void theProgramACommandNamesByAbsolutePathIsFoundPastExecAndVariables() {
        assertThat(ProcessRuntime.program("/opt/node/bin/node server.js")).hasValue(Path.of("/opt/node/bin/node"));
        assertThat(ProcessRuntime.program("  exec /opt/R/4.4/bin/Rscript serve.R")).hasValue(Path.of("/opt/R/4.4/bin/Rscript"));
        assertThat(ProcessRuntime.program("DEBUG=1 LANG=C.UTF-8 /srv/tools/bin/app --port $PORT")).hasValue(Path.of("/srv/tools/bin/app"));
    }

    @ParameterizedTest(name = "no program to make visible in: {0}")
    @ValueSource(strings = {"Rscript serve.R", "./server --port $PORT", "\"/opt/my app/bin/x\"", "$HOME/bin/x", "/opt/*/bin/x",
            "cd /opt && ./x", ""})
    void aNameOnPathARelativePathOrAnythingTheShellWouldExpandNamesNoProgram(String command) {
        assertThat(ProcessRuntime.program(command)).isEmpty();
    }

    @Test
    void networkNoneFailsTheDeployBecauseGaleReachesTheCommandOverLoopbackTcp() {
        var runtime = new ProcessRuntime(new RuntimeContext("gale-test", tmp, tmp, null, (instance, request, stream, line) -> { },
                Isolation.none()));
        var offline = ConfigResolver.fromMap("plots", Map.of("runtime", "process", "command", "Rscript serve.R", "network", "none"));
        var online = ConfigResolver.fromMap("plots", Map.of("runtime", "process", "command", "Rscript serve.R"));

        assertThatThrownBy(() -> runtime.checkIsolation(offline)).isInstanceOf(DeployFailure.class)
                .hasMessageStartingWith("the process runtime is reached over TCP on 127.0.0.1; network none is not possible");
        assertThatCode(() -> runtime.checkIsolation(online)).doesNotThrowAnyException();
    }
}
