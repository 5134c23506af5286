package org.plw4j.examples;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine;

/** What the examples' command-line tools share: exit codes, error lines, the progress bar's look. */
final class Cli {
    /** Exit code of an I/O error. */
    static final int IO_ERROR = 1;
    /** Exit code of a bad option or input ({@link IllegalArgumentException}). */
    static final int BAD_INPUT = 2;

    private Cli() {
    }

    /**
     * Runs a picocli command and exits the JVM with its exit code (standard output and error in UTF-8).
     *
     * @param command the annotated command object
     * @param ioErrorPrefix printed after {@code "error: "} before an I/O error's message
     * @param args the command line
     */
    static void main(Object command, String ioErrorPrefix, String[] args) {
        System.exit(run(command, ioErrorPrefix, new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8), args));
    }

    /**
     * Runs a picocli command without exiting the JVM: an {@link IllegalArgumentException} becomes the line
     * {@code error: <message>} on {@code err} and exit code {@value #BAD_INPUT}, an {@link IOException} the
     * line {@code error: <ioErrorPrefix><message>} and exit code {@value #IO_ERROR}; anything else propagates
     * as picocli handles it.
     *
     * @param command the annotated command object
     * @param ioErrorPrefix printed after {@code "error: "} before an I/O error's message
     * @param out the command's standard output
     * @param err the command's error output
     * @param args the command line
     * @return the exit code (0 success)
     */
    static int run(Object command, String ioErrorPrefix, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(command);
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean bad = ex instanceof IllegalArgumentException;
            if (!bad && !(ex instanceof IOException)) {
                throw ex;
            }
            cmd.getErr().println("error: " + (bad ? "" : ioErrorPrefix) + ex.getMessage());
            cmd.getErr().flush();
            return bad ? BAD_INPUT : IO_ERROR;
        });
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /**
     * A progress bar on standard error: Unicode blocks on a console, ASCII otherwise (logs, CI).
     *
     * @param task the bar's label
     * @param max the count at completion
     * @param updateMillis refresh period
     * @return the builder, for the unit and anything else the caller sets
     */
    static ProgressBarBuilder progressBar(String task, long max, int updateMillis) {
        return new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(max)
                .setStyle(System.console() != null ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(updateMillis);
    }
}
