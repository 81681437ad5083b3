import Foundation

/// The TCP connections this machine has (or recently had, in TIME_WAIT) to a loopback port, read
/// from `/proc/net/tcp` and `/proc/net/tcp6`: how connection reuse is seen against a server that
/// does not count its connections.
public enum LoopbackConnections {
    /// Distinct client-side ports connected to `port`, in any state.
    public static func count(toPort port: Int) -> Int {
        var localPorts = Set<String>()
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // procfs files report a size of 0: read to the end rather than trusting it.
            guard let handle = FileHandle(forReadingAtPath: table), let data = try? handle.readToEnd() else { continue }
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: " ")
                guard columns.count > 2, let remotePort = columns[2].split(separator: ":").last,
                    Int(remotePort, radix: 16) == port, let local = columns[1].split(separator: ":").last
                else { continue }
                localPorts.insert(String(local))
            }
        }
        return localPorts.count
    }
}
