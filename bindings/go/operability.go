package wsconnector

// The connector's figures (as the samples of its Prometheus text) and graceful drain.

/*
#include <stdlib.h>
#include <wsconnector.h>
*/
import "C"

import (
	"context"
	"time"
	"unsafe"
)

// MetricSample is one figure of the connector: its labels and its value.
type MetricSample struct {
	Labels map[string]string
	Value  float64
}

// withSnapshot runs f with a snapshot of the connector's figures, then frees it.
func (c *Connector) withSnapshot(f func(s *C.wsc_metrics_snapshot) error) error {
	var snapshot *C.wsc_metrics_snapshot
	if err := c.with(func(h *C.wsc_connector) C.wsc_result {
		return C.wsc_connector_metrics_snapshot(h, &snapshot)
	}); err != nil {
		return err
	}
	defer C.wsc_metrics_snapshot_free(snapshot)
	return f(snapshot)
}

// Metrics reads the connector's figures now, by the name of their Prometheus sample
// ("wsconnector_sockets_open", "wsconnector_messages_received_total"...): counters since
// start, gauges now, histograms as their _bucket, _sum and _count samples.
func (c *Connector) Metrics() (map[string][]MetricSample, error) {
	figures := map[string][]MetricSample{}
	err := c.withSnapshot(func(snapshot *C.wsc_metrics_snapshot) error {
		count := C.wsc_metrics_snapshot_sample_count(snapshot)
		for i := C.size_t(0); i < count; i++ {
			var name C.wsc_str
			var labels C.size_t
			var value C.double
			C.wsc_metrics_snapshot_sample(snapshot, i, &name, &labels, &value)
			sample := MetricSample{Labels: map[string]string{}, Value: float64(value)}
			for l := C.size_t(0); l < labels; l++ {
				var key, text C.wsc_str
				C.wsc_metrics_snapshot_sample_label(snapshot, i, l, &key, &text)
				sample.Labels[goString(key)] = goString(text)
			}
			figures[goString(name)] = append(figures[goString(name)], sample)
		}
		return nil
	})
	return figures, err
}

// MetricsText is the connector's figures now as Prometheus text (exposition format 0.0.4),
// for an HTTP endpoint of the application's own.
func (c *Connector) MetricsText() (string, error) {
	var text string
	err := c.withSnapshot(func(snapshot *C.wsc_metrics_snapshot) error {
		var length C.size_t
		C.wsc_metrics_snapshot_prometheus(snapshot, nil, 0, &length)
		buf := C.malloc(length + 1)
		defer C.free(buf)
		if err := call(func() C.wsc_result {
			return C.wsc_metrics_snapshot_prometheus(snapshot, (*C.char)(buf), length+1, &length)
		}); err != nil {
			return err
		}
		text = C.GoStringN((*C.char)(buf), C.int(length))
		return nil
	})
	return text, err
}

// DrainOptions says how Drain closes its sockets; zero fields take the defaults.
type DrainOptions struct {
	Filter     Filter        // the sockets to close (every socket)
	BatchSize  int           // sockets closed at a time (1000)
	Interval   time.Duration // between two batches (1 s)
	Code       uint16        // 1001 going away (the default) or 1012 service restart
	Reason     string        // close reason ("server draining")
	RetryAfter time.Duration // what refused handshakes are told to wait (5 s, sent in seconds)
}

// DrainProgress is where a drain stands.
type DrainProgress struct {
	Matched   int  // sockets that matched the filter when it began
	Requested int  // sockets it asked to close
	Closed    int  // matched sockets that have closed
	Batches   int  // batches of close requests sent
	Finished  bool // every matched socket has closed (or the connector stopped)
}

// Drain refuses new handshakes from now on (503 with Retry-After; the health path says 503),
// closes the sockets that match opts.Filter in batches, and waits until they have all closed
// or ctx is done (then it returns the progress so far and ctx's error; the drain goes on).
func (c *Connector) Drain(ctx context.Context, opts DrainOptions) (DrainProgress, error) {
	var options *C.wsc_drain_options
	if result := C.wsc_drain_options_new(&options); result != C.WSC_OK {
		return DrainProgress{}, errorOf(result)
	}
	defer C.wsc_drain_options_free(options)
	if opts.BatchSize > 0 || opts.Interval > 0 {
		size, interval := C.size_t(1000), C.uint64_t(1000)
		if opts.BatchSize > 0 {
			size = C.size_t(opts.BatchSize)
		}
		if opts.Interval > 0 {
			interval = C.uint64_t(opts.Interval.Milliseconds())
		}
		C.wsc_drain_options_set_batches(options, size, interval)
	}
	if opts.Code != 0 || opts.Reason != "" {
		code := opts.Code
		if code == 0 {
			code = 1001
		}
		reason := C.CString(opts.Reason)
		defer C.free(unsafe.Pointer(reason))
		C.wsc_drain_options_set_close(options, C.uint16_t(code), reason)
	}
	if opts.RetryAfter > 0 {
		C.wsc_drain_options_set_retry_after_ms(options, C.uint64_t(opts.RetryAfter.Milliseconds()))
	}
	var drain *C.wsc_drain
	if err := c.withFilter(opts.Filter, func(h *C.wsc_connector, f *C.wsc_filter) C.wsc_result {
		if result := C.wsc_drain_options_set_filter(options, f); result != C.WSC_OK {
			return result
		}
		return C.wsc_connector_drain(h, options, &drain)
	}); err != nil {
		return DrainProgress{}, err
	}
	defer C.wsc_drain_free(drain)
	// Waits in slices, so that ctx is heeded (the C wait cannot be cancelled).
	for {
		progress := C.wsc_drain_progress{struct_size: C.size_t(unsafe.Sizeof(C.wsc_drain_progress{}))}
		if err := call(func() C.wsc_result { return C.wsc_drain_wait(drain, 50, &progress) }); err != nil {
			return DrainProgress{}, err
		}
		result := DrainProgress{
			Matched:   int(progress.matched),
			Requested: int(progress.requested),
			Closed:    int(progress.closed),
			Batches:   int(progress.batches),
			Finished:  progress.finished == 1,
		}
		if result.Finished {
			return result, nil
		}
		if err := ctx.Err(); err != nil {
			return result, err
		}
	}
}
