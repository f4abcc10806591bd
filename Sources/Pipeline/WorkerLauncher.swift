import BufferCache
import ProcessControl

/// Where a worker's heads come from: a cache of its own on the shared pool (`--alloc cache`),
/// or one malloc per head (`--alloc plain`).
public enum AllocatorChoice: Sendable {
    case cache(HeadPool, HeadCache.Configuration)
    case plain
}

/// Starts a worker's thread: its ports from a port set, its allocator, its processor, the
/// worker loop until a stop is requested. The port kind (the set's type) and the allocator
/// choice meet here once, each combination its own specialisation of `Worker`. A worker that
/// fails records why in `failure` and requests the stop of all.
public struct WorkerLauncher: Sendable {
    public var settings: WorkerSettings
    public var allocator: AllocatorChoice
    public let failure: FailureBox

    public init(settings: WorkerSettings, allocator: AllocatorChoice, failure: FailureBox) {
        (self.settings, self.allocator, self.failure) = (settings, allocator, failure)
    }

    /// Worker `worker`'s thread, reading `inputs` on its ports of `ports`.
    @inlinable
    public func start<S: PortSet, P: FrameProcessor & ~Copyable>(
        worker: Int, inputs: [Side], ports: S, name: String, cpu: Int?, slot: StatsSlot<P.Counters>,
        handOff: HandOffEndpoint?, mailbox: WorkerMailbox<P>? = nil, makeProcessor: @escaping () -> P
    ) -> JoinableThread {
        let run = Run(allocator: allocator, inputs: inputs, settings: settings, slot: slot, handOff: handOff,
                      mailbox: mailbox, makeProcessor: makeProcessor)
        let burst = settings.burst, failure = self.failure
        return JoinableThread(name: name, cpu: cpu) {
            do throws(PortError) { try ports.withPorts(worker: worker, burst: burst, run) } catch {
                failure.record(error.message)
                StopControl.request()
            }
        }
    }

    /// One worker on two ports: its allocator made, the worker built and run until a stop is
    /// requested. Inlinable, like the worker: the runner's module specialises it for each
    /// port, allocator and processor.
    @usableFromInline
    struct Run<P: FrameProcessor & ~Copyable>: PortUser {
        @usableFromInline let allocator: AllocatorChoice
        @usableFromInline let inputs: [Side]
        @usableFromInline let settings: WorkerSettings
        @usableFromInline let slot: StatsSlot<P.Counters>
        @usableFromInline let handOff: HandOffEndpoint?
        @usableFromInline let mailbox: WorkerMailbox<P>?
        @usableFromInline let makeProcessor: () -> P

        @usableFromInline
        init(allocator: AllocatorChoice, inputs: [Side], settings: WorkerSettings, slot: StatsSlot<P.Counters>,
             handOff: HandOffEndpoint?, mailbox: WorkerMailbox<P>?, makeProcessor: @escaping () -> P) {
            (self.allocator, self.inputs, self.settings) = (allocator, inputs, settings)
            (self.slot, self.handOff, self.mailbox, self.makeProcessor) = (slot, handOff, mailbox, makeProcessor)
        }

        @inlinable
        func run<IO: PacketPort & ~Copyable>(inPort: consuming IO, outPort: consuming IO) throws(PortError) {
            switch allocator {
            case .cache(let pool, let configuration):
                guard let cache = HeadCache(pool: pool, configuration: configuration) else {
                    throw PortError("too many head caches on one pool")
                }
                try run(cache, inPort, outPort)
            case .plain:
                try run(PlainAllocator(), inPort, outPort)
            }
        }

        @inlinable
        func run<A: HeadAllocator & ~Copyable, IO: PacketPort & ~Copyable>(
            _ allocator: consuming A, _ inPort: consuming IO, _ outPort: consuming IO
        ) throws(PortError) {
            var worker = Worker(allocator: allocator, processor: makeProcessor(), inPort: inPort, outPort: outPort,
                                inputs: inputs, settings: settings, slot: slot, handOff: handOff, mailbox: mailbox)
            try worker.run(stop: StopControl.requested, wakeDescriptor: StopControl.pipe.read)
        }
    }
}
