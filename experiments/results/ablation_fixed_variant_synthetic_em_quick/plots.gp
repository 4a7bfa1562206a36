# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'ablation_fixed_variant_synthetic_em_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours fixed', '' index 0 using 1:4 with linespoints dt 2 title 'paper fixed', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours fixed_gm', '' index 1 using 1:4 with linespoints dt 2 title 'paper fixed_gm', \
     'dice_vs_bits.dat' index 2 using 1:2:3 with yerrorlines lw 2 title 'ours fixed_pow2', '' index 2 using 1:4 with linespoints dt 2 title 'paper fixed_pow2', \
     'dice_vs_bits.dat' index 3 using 1:2:3 with yerrorlines lw 2 title 'ours fixed_twos', '' index 3 using 1:4 with linespoints dt 2 title 'paper fixed_twos'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_fixed.png'
set title 'ablation_fixed_variant_synthetic_em_quick fixed: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_fixed.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_fixed.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_fixed.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_fixed_gm.png'
set title 'ablation_fixed_variant_synthetic_em_quick fixed_gm: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_fixed_gm.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_fixed_gm.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_fixed_gm.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_fixed_pow2.png'
set title 'ablation_fixed_variant_synthetic_em_quick fixed_pow2: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_fixed_pow2.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_fixed_pow2.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_fixed_pow2.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_fixed_twos.png'
set title 'ablation_fixed_variant_synthetic_em_quick fixed_twos: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_fixed_twos.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_fixed_twos.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_fixed_twos.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
