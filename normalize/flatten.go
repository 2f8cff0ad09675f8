package normalize

// flattenValue writes v under key into out, turning nested objects into
// dotted keys ({"source":{"ip":"1.2.3.4"}} -> "source.ip"). An array of
// scalars is kept as []any; the members of an array of objects are merged
// per dotted key into []any (as Elasticsearch does), so
// {"a":[{"ip":"1"},{"ip":"2"}]} gives "a.ip": ["1", "2"]. multi says that
// key is inside such an array and values must be appended.
func flattenValue(out map[string]any, key string, v any, depth int, multi bool) {
	switch x := v.(type) {
	case map[string]any:
		if depth >= maxDepth {
			put(out, key, stringify(x), multi)
			return
		}
		for k, vv := range x {
			flattenValue(out, joinKey(key, k), vv, depth+1, multi)
		}
	case []any:
		if depth >= maxDepth {
			put(out, key, stringify(x), multi)
			return
		}
		if !multi && allScalar(x) {
			arr := make([]any, len(x))
			for i, e := range x {
				arr[i] = scalar(e)
			}
			out[key] = arr
			return
		}
		for _, e := range x {
			flattenValue(out, key, e, depth+1, true)
		}
	default:
		put(out, key, scalar(x), multi)
	}
}

// joinKey appends a segment to a dotted key; an empty segment becomes "_" so
// that no field name is empty or ends in a dot.
func joinKey(prefix, k string) string {
	if k == "" {
		k = "_"
	}
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func put(out map[string]any, key string, v any, multi bool) {
	if !multi {
		out[key] = v
		return
	}
	cur, ok := out[key]
	if !ok {
		out[key] = []any{v}
		return
	}
	if arr, isArr := cur.([]any); isArr {
		out[key] = append(arr, v)
		return
	}
	out[key] = []any{cur, v}
}

func allScalar(a []any) bool {
	for _, e := range a {
		switch e.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}
