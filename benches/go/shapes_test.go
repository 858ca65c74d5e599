// Go twins of gort benchmarks whose shape Go's own test suite lacks
// (Go 1.19's runtime package has no BenchmarkGosched). Run with
//
//	cd benches/go && go test -run XXX -bench . -benchtime 20x -cpu 2
//
// Each reports the time of one whole workload, like the criterion bench of
// the same name, so the figures compare directly.
package gortbench

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// yield_many: 200 goroutines, each calling runtime.Gosched 1 000 times.
func BenchmarkYieldMany(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		wg.Add(200)
		for g := 0; g < 200; g++ {
			go func() {
				for y := 0; y < 1000; y++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	}
}

// spawn_many: 10 000 goroutines started from inside the runtime, all waited for.
func BenchmarkSpawnMany(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		wg.Add(10000)
		for g := 0; g < 10000; g++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
}

// timer_cancel: 1 000 000 timers created and stopped before they fire.
func BenchmarkTimerCancel(b *testing.B) {
	for i := 0; i < b.N; i++ {
		for t := 0; t < 1000000; t++ {
			time.NewTimer(time.Minute).Stop()
		}
	}
}

// ping_pong: 1 000 pings, each a goroutine that starts a partner and
// exchanges one message each way with it over two 1-buffered channels.
func BenchmarkPingPong(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		wg.Add(1000)
		for p := 0; p < 1000; p++ {
			go func() {
				c1, c2 := make(chan struct{}, 1), make(chan struct{}, 1)
				go func() {
					<-c1
					c2 <- struct{}{}
				}()
				c1 <- struct{}{}
				<-c2
				wg.Done()
			}()
		}
		wg.Wait()
	}
}
