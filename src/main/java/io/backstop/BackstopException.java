package io.backstop;

/**
 * The one unchecked exception Backstop raises on purpose. Its {@link ExitCode} decides the
 * process exit status; its message is written for the operator and must never carry a secret.
 */
public class BackstopException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ExitCode code;

    public BackstopException(ExitCode code, String message) {
        super(message);
        this.code = code;
    }

    public BackstopException(ExitCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public ExitCode code() {
        return code;
    }
}
