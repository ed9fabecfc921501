import java.nio.file.Path;

/** bench/offsite.sh: the base64 CRC32C of a file, as Backstop sends it in x-amz-checksum-crc32c. */
public class Crc32c {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        System.out.println(io.backstop.offsite.Checksum.CRC32C.of(file, 0, java.nio.file.Files.size(file)));
    }
}
