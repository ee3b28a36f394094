// etcd-load — zkv-bench's workloads against etcd, with etcd's own Go client
// (clientv3, gRPC), for side-by-side comparisons in docs/BENCHMARKS.md.
//
//	etcd-load [--endpoints E] [--workload put|get] [--clients N] [--total N]
//	          [--key-size N] [--val-size N] [--key-space N] [--consistency l|s]
//	          [--json] [--rate R] [--trace FILE]
//
// Like zkv-bench: --clients closed-loop clients with one request in flight
// each; put writes keys 0..key-space-1 in turn (the key space defaults to
// --total), get reads keys drawn uniformly from the key space (write them
// first with put), linearizable unless --consistency s; keys are numbers
// zero-padded to --key-size bytes, values --val-size bytes; and the same
// report (throughput, latency p50/p90/p99/max by nearest rank). The clients
// share one gRPC connection, as etcd's own benchmark tool does with
// --conns=1.
//
// With --rate R the load is paced, as zkv-bench's --rate: request i is due
// at start + i/R and goes out then on a free client, or as soon as one is
// free; its latency counts from when it was due (open loop). It runs until
// --total requests are done or SIGINT/SIGTERM. --trace FILE writes one line
// per request done: when it was due (wall clock, usecs since the epoch),
// its latency (usecs), and 1 if it failed.
//
// Built offline from Debian's golang-etcd-server-dev (GOPATH mode): see
// tools/bench/bench-cluster.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func key(n, size int) string {
	digits := fmt.Sprintf("%d", n)
	if len(digits) >= size {
		return digits[len(digits)-size:]
	}
	return strings.Repeat("0", size-len(digits)) + digits
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return float64(sorted[rank-1].Microseconds()) / 1000
}

// One request: request number n, on the client whose random source is rng
type requester func(ctx context.Context, n int, rng *rand.Rand) error

// newRequester makes the workload's request: a put of key n of the key
// space, or a get of a random key of it
func newRequester(client *clientv3.Client, workload string, keySize, keySpace int,
	value string, serializable bool) requester {
	if workload == "get" {
		var options []clientv3.OpOption
		if serializable {
			options = append(options, clientv3.WithSerializable())
		}
		return func(ctx context.Context, n int, rng *rand.Rand) error {
			_, err := client.Get(ctx, key(rng.Intn(keySpace), keySize), options...)
			return err
		}
	}
	return func(ctx context.Context, n int, rng *rand.Rand) error {
		_, err := client.Put(ctx, key(n%keySpace, keySize), value)
		return err
	}
}

// One request of a paced run
type sample struct {
	due     time.Time
	latency time.Duration
	failed  bool
	done    bool
}

// paced runs the requests of a --rate run and returns them, those done
// marked so; stopped by SIGINT/SIGTERM
func paced(request requester, clients, total int, rate float64) []sample {
	samples := make([]sample, total)
	jobs := make(chan int, 1024) // a backlog beyond it waits in the pacer, still due
	var stopped int32
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		atomic.StoreInt32(&stopped, 1)
	}()
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		defer close(jobs)
		for i := 0; i < total && atomic.LoadInt32(&stopped) == 0; i++ {
			due := start.Add(time.Duration(i) * interval)
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			samples[i].due = due
			jobs <- i
		}
	}()
	var group sync.WaitGroup
	for c := 0; c < clients; c++ {
		group.Add(1)
		rng := rand.New(rand.NewSource(int64(12345 + c)))
		go func() {
			defer group.Done()
			for n := range jobs {
				if atomic.LoadInt32(&stopped) != 0 {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := request(ctx, n, rng)
				cancel()
				samples[n].latency = time.Since(samples[n].due)
				samples[n].failed = err != nil
				samples[n].done = true
			}
		}()
	}
	group.Wait()
	for range jobs { // until the pacer has stopped too
	}
	return samples
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "etcd client endpoints, comma separated")
	workload := flag.String("workload", "put", "put, or get (linearizable unless --consistency s)")
	keySpace := flag.Int("key-space", 0, "distinct keys (default: total)")
	consistency := flag.String("consistency", "l", "get: linearizable (l) or serializable (s)")
	clients := flag.Int("clients", 1, "concurrent clients")
	total := flag.Int("total", 10000, "requests in all")
	keySize := flag.Int("key-size", 16, "bytes per key")
	valSize := flag.Int("val-size", 256, "bytes per value")
	asJSON := flag.Bool("json", false, "print one JSON object")
	rate := flag.Float64("rate", 0, "paced: requests per second (open loop), until --total or SIGTERM")
	trace := flag.String("trace", "", "one line per request: due (wall usecs), usecs, failed")
	flag.Parse()
	if (*workload != "put" && *workload != "get") || (*consistency != "l" && *consistency != "s") ||
		*keySpace < 0 || *total < 1 || *clients < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(128)
	}
	if *keySpace == 0 {
		*keySpace = *total
	}
	if *clients > *total {
		*clients = *total
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   strings.Split(*endpoints, ","),
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	defer client.Close()
	value := strings.Repeat("v", *valSize)
	request := newRequester(client, *workload, *keySize, *keySpace, value, *consistency == "s")

	latencies := make([]time.Duration, *total)
	var next, errors int
	var lock sync.Mutex
	var group sync.WaitGroup
	start := time.Now()
	if *rate > 0 {
		samples := paced(request, *clients, *total, *rate)
		latencies = latencies[:0]
		var out *bufio.Writer
		if *trace != "" {
			file, err := os.Create(*trace)
			if err != nil {
				fmt.Fprintf(os.Stderr, "Error: %v\n", err)
				os.Exit(1)
			}
			out = bufio.NewWriter(file)
			defer file.Close()
		}
		for _, s := range samples {
			if !s.done {
				continue
			}
			latencies = append(latencies, s.latency)
			failed := 0
			if s.failed {
				errors++
				failed = 1
			}
			if out != nil {
				fmt.Fprintf(out, "%d %d %d\n", s.due.UnixNano()/1000, s.latency.Microseconds(), failed)
			}
		}
		if out != nil && out.Flush() != nil {
			fmt.Fprintf(os.Stderr, "Error: cannot write %s\n", *trace)
			os.Exit(1)
		}
		*total = len(latencies)
	}
	for c := 0; c < *clients && *rate == 0; c++ {
		group.Add(1)
		rng := rand.New(rand.NewSource(int64(12345 + c)))
		go func() {
			defer group.Done()
			for {
				lock.Lock()
				n := next
				next++
				lock.Unlock()
				if n >= *total {
					return
				}
				sent := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := request(ctx, n, rng)
				cancel()
				latencies[n] = time.Since(sent)
				if err != nil {
					lock.Lock()
					errors++
					lock.Unlock()
				}
			}
		}()
	}
	group.Wait()
	seconds := time.Since(start).Seconds()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	throughput := float64(*total) / seconds
	p50, p90, p99 := percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99)
	max := percentile(latencies, 100)
	if *asJSON {
		mode := ""
		if *workload == "get" {
			mode = *consistency
		}
		fmt.Printf("{\"workload\":\"%s\",\"consistency\":\"%s\",\"clients\":%d,\"total\":%d,"+
			"\"key_size\":%d,\"value_size\":%d,\"errors\":%d,\"seconds\":%.3f,"+
			"\"throughput\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"+
			"\"max\":%.3f}}\n", *workload, mode, *clients, *total, *keySize, *valSize, errors,
			seconds, throughput, p50, p90, p99, max)
	} else {
		fmt.Printf("%s: %d requests, %d clients, %d-byte keys, %d-byte values\n",
			*workload, *total, *clients, *keySize, *valSize)
		fmt.Printf("  throughput  %.1f requests/s (%.2f s)\n", throughput, seconds)
		fmt.Printf("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", p50, p90, p99, max)
		if errors > 0 {
			fmt.Printf("  errors      %d\n", errors)
		}
	}
	if errors > 0 {
		os.Exit(1)
	}
}
