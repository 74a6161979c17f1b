import CLinux

/// LZ4 block compression through the system liblz4.
public enum LZ4 {
    /// The largest output `compress` can produce for `count` input bytes.
    public static func compressBound(_ count: Int) -> Int {
        Int(LZ4_compressBound(Int32(clamping: count)))
    }

    /// Compresses `source` into `destination`; returns the compressed size, or nil when the
    /// destination is too small (so callers can give up when compression would not save).
    public static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        guard source.count <= Int(LZ4_MAX_INPUT_SIZE), let src = source.baseAddress, let dst = destination.baseAddress
        else { return nil }
        let written = LZ4_compress_default(
            src.assumingMemoryBound(to: CChar.self),
            dst.assumingMemoryBound(to: CChar.self),
            Int32(source.count),
            Int32(clamping: destination.count)
        )
        return written > 0 ? Int(written) : nil
    }

    /// Decompresses `source`, which must expand to exactly `destination.count` bytes.
    /// liblz4's safe decoder never writes past `destination` whatever the input.
    public static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(WireError) {
        guard let src = source.baseAddress, let dst = destination.baseAddress else {
            throw .corruptCompressedPayload
        }
        let written = LZ4_decompress_safe(
            src.assumingMemoryBound(to: CChar.self),
            dst.assumingMemoryBound(to: CChar.self),
            Int32(clamping: source.count),
            Int32(clamping: destination.count)
        )
        guard written == Int32(destination.count) else { throw .corruptCompressedPayload }
    }
}
