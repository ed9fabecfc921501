package io.backstop.config;

import com.exceptionfactory.jagged.x25519.X25519RecipientStanzaWriterFactory;
import java.security.GeneralSecurityException;

/** The one rule for an age recipient in the configuration: an X25519 public key, never an identity. */
public final class AgeRecipient {
    private AgeRecipient() {
    }

    /** Why {@code recipient} is not an age X25519 public key, or null when it is one. */
    public static String problem(String recipient) {
        if (recipient.startsWith("AGE-SECRET-KEY-")) {
            // Never echo it: this is a private key put where a public one belongs.
            return "is an age identity (a private key); only public keys (age1...) belong in the configuration:"
                    + " keep the identity away from this host";
        }
        try {
            X25519RecipientStanzaWriterFactory.newRecipientStanzaWriter(recipient);
            return null;
        } catch (GeneralSecurityException | RuntimeException e) {
            return "\"" + recipient + "\" is not an age public key; allowed: the \"age1...\" line age-keygen prints"
                    + " (age-keygen -y KEYFILE shows it)";
        }
    }

}
