/// The version shown by `znetd --version` and in the startup log line.
public enum ZnetdVersion {
    public static let string = "0.1.0"
}
