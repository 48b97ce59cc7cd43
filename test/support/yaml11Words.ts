// Plain scalars a YAML 1.1 reader takes for something other than a string
// (https://yaml.org/type/: bool, null, int, float, timestamp), and those that
// go-yaml v2, kubectl's reader, hands to Go's strconv on top of them.
export const YAML_11_NON_STRINGS = [
  // bool
  'y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'on', 'On', 'ON', 'off', 'Off', 'OFF',
  // null
  '~', 'null', 'Null', 'NULL', '',
  // int: decimal, octal, hex, binary, underscores, sexagesimal
  '1234', '0', '-17', '+17', '017', '0x1F', '0x_1f', '0b1010', '1_000', '190:20:30', '12:30:45',
  // float
  '1.5', '1e3', '1E3', '-1.5e-3', '.5', '1.', '6.8523015e+5', '685.230_15e+03', '190:20:30.15', '.inf', '-.inf', '+.INF', '.nan', '.NaN',
  // timestamp
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10 -5', '2001-12-15T02:59:43.1Z', '2002-1-2',
];

export const GO_ONLY_NON_STRINGS = ['0o17', '0O17', '0X1F', '0B101', '089', '1e_3', '-0b1', '00'];
