package wsconnector

/*
#include <wsconnector.h>
*/
import "C"

import "time"

// Reconnect is how an outbound socket reconnects once its connection ends: exponential backoff
// with full jitter (before attempt n a random delay up to min(MaxDelay, InitialDelay *
// Multiplier^(n-1))), at most MaxAttempts attempts (0: forever) before it closes with
// ErrRetryExhausted as its LastError. Lazy is Mule's lazy mode: it reconnects when a message
// is next sent to it. FailSends makes sends fail with ErrReconnecting meanwhile (else they wait
// in the send queue). FinalCloseCodes are the server's close codes that end it instead (each
// a [first, last] range; nil: 1000 alone). A zero field keeps the library's default (500 ms,
// 30 s, 2). It keeps its ID, groups and attributes.
type Reconnect struct {
	InitialDelay    time.Duration
	MaxDelay        time.Duration
	Multiplier      float64
	MaxAttempts     uint32
	Lazy            bool
	FailSends       bool
	FinalCloseCodes [][2]uint16
}

// withPolicy hands use a wsc_reconnect made from r, then frees it; use runs on the calling
// (locked) thread, and its result is returned.
func (r *Reconnect) withPolicy(use func(*C.wsc_reconnect) C.wsc_result) C.wsc_result {
	var policy *C.wsc_reconnect
	if result := C.wsc_reconnect_new(&policy); result != C.WSC_OK {
		return result
	}
	defer C.wsc_reconnect_free(policy)
	steps := []func() C.wsc_result{}
	if r.InitialDelay != 0 || r.MaxDelay != 0 || r.Multiplier != 0 {
		initial, max, multiplier := r.InitialDelay, r.MaxDelay, r.Multiplier
		if initial == 0 {
			initial = 500 * time.Millisecond
		}
		if max == 0 {
			max = 30 * time.Second
		}
		if multiplier == 0 {
			multiplier = 2
		}
		steps = append(steps, func() C.wsc_result {
			return C.wsc_reconnect_set_delays(policy, C.uint64_t(initial.Milliseconds()),
				C.uint64_t(max.Milliseconds()), C.double(multiplier))
		})
	}
	steps = append(steps,
		func() C.wsc_result { return C.wsc_reconnect_set_max_attempts(policy, C.uint32_t(r.MaxAttempts)) },
		func() C.wsc_result { return C.wsc_reconnect_set_lazy(policy, C.bool(r.Lazy)) })
	if r.FailSends {
		steps = append(steps, func() C.wsc_result {
			return C.wsc_reconnect_set_send_policy(policy, C.WSC_RECONNECT_FAIL)
		})
	}
	if r.FinalCloseCodes != nil {
		steps = append(steps, func() C.wsc_result { return C.wsc_reconnect_clear_final_close_codes(policy) })
		for _, codes := range r.FinalCloseCodes {
			first, last := codes[0], codes[1]
			steps = append(steps, func() C.wsc_result {
				return C.wsc_reconnect_add_final_close_codes(policy, C.uint16_t(first), C.uint16_t(last))
			})
		}
	}
	for _, step := range steps {
		if result := step(); result != C.WSC_OK {
			return result
		}
	}
	return use(policy)
}
