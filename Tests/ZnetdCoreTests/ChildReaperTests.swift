import Glibc
import Synchronization
import Testing
@testable import ZnetdCore

extension ChildProcessTests {
    /// Inside the serialized process suite: `reap` waits for any child.
    @Suite struct Reaper {
        @Test func reportsExitCodesAndSignals() throws {
            let reaper = ChildReaper()
            var statuses: [String: ExitStatus] = [:]
            let scripts = ["exit 3": "three", "exit 0": "zero", "kill -KILL $$": "killed", "kill -TERM $$": "terminated"]
            var children: [ChildProcess] = []
            for (script, name) in scripts {
                let child = try ChildProcess.spawn(SpawnRequest(argv: ["/bin/sh", "-c", script], environment: []))
                reaper.watch(child) { statuses[name] = $0 }
                children.append(child)
            }
            for child in children { Run.waitUntilExited(child.pid) }

            let reaped = reaper.reap()
            #expect(Set(reaped.map(\.pid)) == Set(children.map(\.pid)))
            #expect(reaped.allSatisfy { $0.wasWatched })
            #expect(statuses == [
                "three": .exited(code: 3), "zero": .exited(code: 0),
                "killed": .killed(signal: SIGKILL, coreDumped: false),
                "terminated": .killed(signal: SIGTERM, coreDumped: false),
            ])
            #expect(statuses["killed"]?.description == "killed by SIGKILL")
            #expect(statuses["three"]?.description == "exited with status 3")
            #expect(reaper.watchedCount == 0)
            for child in children {
                #expect(child.exitStatus != nil)
                #expect(try child.signal(SIGTERM) == false, "a reaped child's pid is never signalled")
            }
            #expect(reaper.reap().isEmpty)
        }

        @Test func reapsOrphanedGrandchildrenAsSubreaper() throws {
            try ChildReaper.becomeSubreaper()
            let reaper = ChildReaper()
            let pipe = try Pipe()
            // The shell prints its background child's pid and exits, orphaning it.
            let child = try ChildProcess.spawn(SpawnRequest(
                argv: ["/bin/sh", "-c", "sleep 0.3 & echo $!"], environment: ["PATH=/usr/bin:/bin"],
                standardOutput: pipe.write))
            pipe.closeWrite()
            defer { pipe.closeRead() }
            let orphan = try #require(pid_t(pipe.readLine().trimmingSpaces))
            var status: ExitStatus?
            reaper.watch(child) { status = $0 }
            Run.waitUntilExited(child.pid)
            #expect(reaper.reap().map(\.pid) == [child.pid])
            #expect(status == .exited(code: 0))

            #expect(Run.parent(of: orphan) == getpid(), "the orphan is re-parented to us, not to PID 1")
            Run.waitUntilExited(orphan)
            #expect(Run.state(of: orphan) == "Z", "it waits as a zombie until reaped")
            let reaped = reaper.reap()
            #expect(reaped == [ChildReaper.Reaped(pid: orphan, status: .exited(code: 0), wasWatched: false)])
            #expect(Run.state(of: orphan) == nil, "no zombie remains")
        }

        @Test func signalSourceRoutesSIGCHLDToTheReaperOnARealLoop() throws {
            let loop = try EventLoop(index: 90, pipeSize: 4096)
            let reaper = ChildReaper()
            let thread = Atomic<UInt>(0)
            let box = UncheckedBox((loop, reaper))
            try LoopThread.spawn(name: "test-signals") {
                // As the daemon does before it starts threads: the signals wait for the signalfd.
                SignalSource.block()
                let (loop, reaper) = box.value
                _ = try? SignalSource(loop: loop, reaper: reaper) { _ in }
                thread.store(UInt(pthread_self()), ordering: .releasing)
                loop.run()
            }
            defer { loop.execute { box.value.0.stop() } }
            while thread.load(ordering: .acquiring) == 0 { usleep(1000) }

            // Spawned and watched in one turn of the loop, as the daemon does: a SIGCHLD that the
            // loop's signalfd sees in between (a test runner whose threads all block SIGCHLD
            // leaves it pending for the process) would reap the child unwatched.
            let result = Mutex<ExitStatus?>(nil)
            let spawned = Atomic<Int32>(0)
            loop.execute {
                guard let child = try? ChildProcess.spawn(SpawnRequest(argv: ["/bin/sh", "-c", "exit 7"], environment: []))
                else { return spawned.store(-1, ordering: .releasing) }
                box.value.1.watch(child) { status in result.withLock { $0 = status } }
                spawned.store(child.pid, ordering: .releasing)
            }
            while spawned.load(ordering: .acquiring) == 0 { usleep(1000) }
            let pid = spawned.load(ordering: .acquiring)
            try #require(pid > 0, "spawn failed")
            Run.waitUntilExited(pid)
            // The kernel's SIGCHLD goes to the process and any thread of the test runner that
            // does not block it may discard it; a SIGCHLD for the loop thread itself is certain
            // to wait in its signalfd.
            pthread_kill(pthread_t(thread.load(ordering: .acquiring)), SIGCHLD)
            var status: ExitStatus?
            for _ in 0..<5000 {
                status = result.withLock { $0 }
                if status != nil { break }
                usleep(1000)
            }
            #expect(status == .exited(code: 7))
            #expect(Run.state(of: pid) == nil, "reaped by the loop")
        }
    }
}
