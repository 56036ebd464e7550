package gale.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A Serverless Framework or SAM project's handler is read where it is unambiguous. */
class ServerlessSettingsTest {

    @TempDir
    Path bundle;

    @Test
    void aServerlessYmlFunctionNamedLikeTheDeployGivesHandlerMemoryTimeoutAndEnvironment() throws IOException {
        write("serverless.yml", """
                service: survey
                provider:
                  name: aws
                  runtime: python3.11
                  memorySize: 512
                  environment:
                    STAGE: dev
                functions:
                  score:
                    handler: handler.score
                    timeout: 20
                    environment:
                      MODEL: churn
                    events:
                      - httpApi: 'POST /score'
                  report:
                    handler: report.main
                """);

        ConfigResolver.Resolved r = ConfigResolver.resolveWithNotes("score", bundle, Map.of());

        assertThat(r.config().entryModule()).isEqualTo("handler.py");
        assertThat(r.config().entryPoint()).isEqualTo("score");
        assertThat(r.config().memory().megabytes()).isEqualTo(512);
        assertThat(r.config().timeout()).isEqualTo(Duration.ofSeconds(20));
        assertThat(r.config().env()).containsEntry("STAGE", "dev").containsEntry("MODEL", "churn");
        assertThat(r.notes()).containsExactly("read serverless.yml function 'score': handler handler.score, environment; "
                + "events, IAM and other AWS settings ignored");
        assertThatThrownBy(() -> ConfigResolver.resolve("other", bundle, Map.of()))
                .hasMessage("serverless.yml has the functions score, report; deploy one under its name (gale deploy score ...) "
                        + "or give --entry-point MODULE.FUNCTION");
        assertThat(ConfigResolver.resolve("other", bundle, Map.of("entryPoint", "report.main")).entryModule()).isEqualTo("report.py");
    }

    @Test
    void aSamTemplatesOnlyFunctionIsReadAndItsCloudFormationReferencesAreLeftOut() throws IOException {
        write("template.yaml", """
                AWSTemplateFormatVersion: '2010-09-09'
                Transform: AWS::Serverless-2016-10-31
                Globals:
                  Function:
                    Timeout: 3
                    MemorySize: 256
                Resources:
                  Table:
                    Type: AWS::DynamoDB::Table
                  FraudFunction:
                    Type: AWS::Serverless::Function
                    Properties:
                      CodeUri: .
                      Handler: app.lambda_handler
                      MemorySize: 1024
                      Environment:
                        Variables:
                          TABLE: !Ref Table
                          THRESHOLD: 0.5
                Outputs:
                  Api:
                    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"
                """);

        FunctionConfig c = ConfigResolver.resolve("fraud", bundle, Map.of());

        assertThat(c.entryModule()).isEqualTo("app.py");
        assertThat(c.entryPoint()).isEqualTo("lambda_handler");
        assertThat(c.memory().megabytes()).isEqualTo(1024);
        assertThat(c.timeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(c.env()).containsOnlyKeys("THRESHOLD");
    }

    @Test
    void aSamFunctionWhoseCodeIsInAFolderIsRefusedWithTheCommandThatDeploysIt() throws IOException {
        write("template.yaml", """
                Transform: AWS::Serverless-2016-10-31
                Resources:
                  HelloWorldFunction:
                    Type: AWS::Serverless::Function
                    Properties:
                      CodeUri: hello_world/
                      Handler: app.lambda_handler
                """);

        assertThatThrownBy(() -> ConfigResolver.resolve("hello", bundle, Map.of()))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessage("template.yaml: HelloWorldFunction's code is in hello_world/, which Lambda runs from; deploy that folder: "
                        + "gale deploy hello --source hello_world --entry-point app.lambda_handler");
    }

    @Test
    void aTemplateYamlThatIsNotSamIsNotGalesBusiness() throws IOException {
        write("template.yaml", "{% for x in items %}\n  - {{ x }}\n{% endfor %}\n");
        write("main.py", "def hello(request):\n    return 'hi'\n");

        assertThat(ConfigResolver.resolve("hello", bundle, Map.of()).entryModule()).isEqualTo("main.py");
    }

    private void write(String file, String text) throws IOException {
        Files.writeString(bundle.resolve(file), text);
    }
}
